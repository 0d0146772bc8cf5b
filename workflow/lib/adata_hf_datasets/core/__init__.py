"""Pure algorithms on arrays: no files, no Snakemake, no network.

``genes`` (gene names, highly-variable mask), ``ranking`` (top genes per cell), ``spelling``
(positions to text, annotation suffix), ``semantic`` (most similar other annotation),
``negatives`` (the negative pool and sampling), ``formats`` (the columns of each dataset
format and what they mean), ``rows`` (a chunk's rows in a format), ``naming`` (the dataset id
and the Hub repository name rules).
"""
