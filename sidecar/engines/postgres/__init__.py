"""PostgreSQL: `postgresql://` URLs, asyncpg connections bounded twice, errors by SQLSTATE."""
