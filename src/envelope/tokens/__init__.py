"""Token counting with the right tokenizer per model; estimates are labelled."""
