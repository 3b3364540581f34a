"""ERP sync jobs: one row per document pushed to (or pulled from) the ERP, with its status."""
