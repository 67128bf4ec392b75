"""MariaDB (and MySQL): aiomysql connections bounded twice, errors by number, information_schema."""
