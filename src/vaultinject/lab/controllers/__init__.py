"""The lab's controllers: reconcile loops that run in the API server process and write only through the
same create/replace/patch/delete paths that clients use, so admission, validation and watch events apply."""
