"""A project's data in and out: questions, trees, status and files written safely.

- `questions.py`    seeded generation of training and eval questions.
- `questions_io.py` `ida questions import` / export, every row checked before any is written.
- `trees.py`        trees as stored records: show, export and import as JSON (docs/spec.md §6.2).
- `status.py`       `ida status` and `ida export`.
- `outputs.py`      writing a file: check the folder, write beside it, rename into place.
"""
