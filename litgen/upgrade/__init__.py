"""`litgen upgrade`: rewrite PyTorch Lightning 1.x code so that it runs on Lightning 2.x."""
