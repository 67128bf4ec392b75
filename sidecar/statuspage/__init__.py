"""The status page for people: `page.py` serves it, `view.py` decides what it shows from the
report and the history, `charts.py` turns history into chart geometry, `words.py` says things in
plain words, and `templates/` holds the Jinja2 templates, the style and the refresh script."""
