from stainworth.components.advance_ledger.component import advance_ledger

__all__ = ["advance_ledger"]
