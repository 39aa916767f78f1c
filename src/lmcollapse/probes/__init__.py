"""The downstream probe: labelled tasks from real text, their split, and the protocol (fine-tune or linear)."""
