"""The analysis: one dataset's results as tables (summary, tables), figures (sweep) and claims, read from the
pipeline's outputs; it imports the pipeline's records (strategies, artifacts), never the other way round."""
