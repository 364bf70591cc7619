// placeholder: media module is being built
