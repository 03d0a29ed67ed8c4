"""Learning from corrections: per-image features, few-label heads, what to label next, review.

numpy + scikit-learn only; torch is reached lazily through the model core for CNN features.
"""
