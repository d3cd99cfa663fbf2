"""Model cards: Markdown with YAML front matter."""
