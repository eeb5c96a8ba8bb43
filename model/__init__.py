"""Load, preprocess, predict and explain: everything the app and training share."""
