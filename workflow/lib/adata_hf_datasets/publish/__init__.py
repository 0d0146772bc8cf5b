"""Publishing: everything that describes the dataset for others or leaves the machine.

``card`` (render the dataset card; the default template is package data),
``card_variables`` (what the card says), ``hub`` (push to the Hugging Face Hub),
``nextcloud`` (upload chunks and share them as ``adata_link``).
"""
