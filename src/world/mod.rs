//! Procedural physics world with ground truth (edit cases for training and evaluation).
