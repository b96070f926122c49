"""Apache Airflow provider for saltant, the Django REST job-queue server.

Importing this package is cheap: it pulls in no HTTP, async or Airflow module.
"""

__version__ = "0.1.0"
