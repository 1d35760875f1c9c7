"""Request classifier: intent, complexity and risk from a MiniLM sentence embedding.

Three small softmax regressions (`logistic.py`) read the 384-d all-MiniLM-L6-v2 vector
of a prompt plus its log word count; `risk.py` then raises the risk score with rules
for personal data, legal threats, escalation and self-harm. `model.py` loads the
shipped weights (`data/weights.npz`) and classifies; `train.py` rebuilds them from the
hand-labelled set in `data/prompts.jsonl` (see `data/README.md`).
"""
