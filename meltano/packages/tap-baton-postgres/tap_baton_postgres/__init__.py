"""tap-baton-postgres: meltanolabs-tap-postgres with decimal annotations and a COPY bulk export path."""
