"""The dashboard's views: each builds one page's JSON from fourlens functions (presentation only)."""
