from .arsam_hook import ARSAMHook

__all__ = ['ARSAMHook']
