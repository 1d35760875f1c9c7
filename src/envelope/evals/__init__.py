"""Evals: golden sets per intent, the scorers that grade a gateway's answers, and the
regression gate behind `envelope eval`.

Shape: `documents` (what a golden file may say) → `golden` (loading, with errors that
name the file, line and field) → `runner` (each item through a running gateway over
HTTP, graded by `grader` with the pure `scorers` and the LLM `judge`) → `results`
(per-intent summaries, the JSON a run and a baseline are stored as) → `gate` (the pure
decision: did this run regress against the baseline?).
"""
