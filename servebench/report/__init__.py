"""HTML reports, rendered from result files only: nothing here starts a server or measures."""
