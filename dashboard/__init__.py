"""The alert dashboard: where alerts are kept after delivery, and the view over them.

``schema`` is the one definition of the store's layout (pure: no boto3), ``store`` the
DynamoDB adapter over it, ``cursor`` its opaque pagination cursors, ``table`` the table
as template.yaml declares it, ``destination`` the delivery destination that writes it.
``queries`` and ``api`` are the HTTP API over the store, ``static`` the page it serves.
"""
