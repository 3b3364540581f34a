"""Parts and the stock ledger: every change to a part's stock is one movement with the levels after it."""
