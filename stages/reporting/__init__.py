"""What people read: the findings a report leads with (pure), its figures (matplotlib),
the document rendered as Markdown and self-contained HTML, the DVCLive curves it
draws, and the sweep table built from `dvc exp show --json`."""
