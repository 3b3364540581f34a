"""Workshop KPIs, the technician leaderboard and its badges."""
