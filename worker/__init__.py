"""The worker's face: the feed, the annotator (htmx) and the assignments API."""
