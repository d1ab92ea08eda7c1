"""Spiders. Each one yields clinic records in the shape of ``crawlers.items.new_clinic``."""
