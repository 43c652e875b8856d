"""HTTP client for the Studio API calls labelnoise makes."""
