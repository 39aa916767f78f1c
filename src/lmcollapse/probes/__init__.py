"""Classifiers over a run's text: the downstream probe (labelled tasks from real text, their split, and the
protocol: fine-tune or linear) and the detector of generated text (detector.py)."""
