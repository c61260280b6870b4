"""The status page and its data route: page files, request history, ops and component summaries."""
