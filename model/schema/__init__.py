"""The artifact's typed files: the model card and the result records, read and written in one place."""
