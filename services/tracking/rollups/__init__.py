"""Rollup tables: the job that keeps them current, the reads that answer from them, visitor sketches."""
