"""Kring as an app on a phone: the web app manifest, the service worker, and the
person's devices for push notifications (Web Push)."""
