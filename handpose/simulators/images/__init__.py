"""Synthetic labelled hand images: appearance, scenes, the low-resolution ladder, generation.

- :mod:`.appearance`: skin tones (Monk scale), lights, procedural textures, rendering domains.
- :mod:`.hands`: both sides of the hand model, poses, the inter-penetration check.
- :mod:`.scenes`: the ``single`` / ``twohand`` / ``video`` scene builders and crop cameras.
- :mod:`.degrade`: area downsampling, blur, noise and JPEG with adjusted K and labels.
- :mod:`.generate`: sharded, parallel, resumable, deterministic generation
  (``handpose synth images``).

Rendering needs the GL renderer (``pip install 'handpose[render]'`` and Mesa EGL).
"""
