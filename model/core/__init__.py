"""Arrays in, answers out: decode, preprocess, classify, guard, explain. Reads the artifact through `model.schema`."""
