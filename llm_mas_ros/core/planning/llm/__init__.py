"""Language-model planning: prompt, retrieval of examples, constrained decoding, runtimes."""
