"""`ida grid`: a resumable grid of experiments (spec.py: what the cells are; run.py: running them
on local workers or Ray; results.py: each finished cell's compact curve file)."""
