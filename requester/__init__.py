"""The requester's face: pool pages and the live dashboard with its charts, forms, downloads, and the pools API."""
