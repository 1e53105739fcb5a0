"""Reports and analytics over a site's database: aggregate SQL only, no personal data."""
