"""A small example extension, kept as a test (``tests/test_extension_points.py``): a new pathway and a new
hook, written exactly as they would be added to the product. In the product the files would be:

- ``cards/discharge_calcium.py`` (this folder's module) and ``cards/data/discharge_calcium.json`` (its data);
- one service entry in ``cards/data/service.json`` naming the hook and the pathway;
- one context model and one ``HOOKS`` entry in ``service/api/hooks.py`` (in the test module).
"""
