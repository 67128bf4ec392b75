"""What the scanner makes of SQL that dump tools, or people, write: one case per quirk."""

from pathlib import Path

import pytest

from sidecar.backups.dump import count_rows
from sidecar.backups.plain import plain_rows
from sidecar.backups.scanner import fold_rows

HEADER = b"-- MariaDB dump 10.19\n--\n-- Host: db    Database: app\n"
FOOTER = b"-- Dump completed on 2026-11-25  6:00:01\n"

# (case, SQL between header and footer, rows of app.User, or None when it must not be counted)
CASES = [
    ("extended insert", b"INSERT INTO `User` VALUES (1,'a'),(2,'b');\n", 2),
    ("mariadb-dump 10.11 rows on lines", b"INSERT INTO `User` VALUES\n(1,'a'),\n(2,'b');\n", 2),
    ("single-row inserts", b"INSERT INTO `User` VALUES (1);\nINSERT INTO `User` VALUES (2);\n", 2),
    ("complete insert", b"INSERT INTO `User` (`id`, `e`) VALUES (1,'a'),(2,'b');\n", 2),
    ("insert ignore", b"INSERT IGNORE INTO `User` VALUES (1),(2),(3);\n", 3),
    ("replace", b"REPLACE INTO `User` VALUES (1);\n", 1),
    ("lower case, no backticks", b"insert into User values (1),(2);\n", 2),
    ("VALUE and no space", b"INSERT INTO User VALUE(1),(2);\n", 2),
    ("empty row of defaults", b"INSERT INTO User VALUES ();\n", 1),
    ("hex blob", b"INSERT INTO `User` VALUES (1,0x00FF3B29),(2,0x);\n", 2),
    ("NULLs and negatives", b"INSERT INTO `User` VALUES (NULL,-1,-2.5e-3),(NULL,-0,NULL);\n", 2),
    ("escaped quote", b"INSERT INTO `User` VALUES (1,'it\\'s'),(2,'\\\\');\n", 2),
    ("doubled quote", b"INSERT INTO `User` VALUES (1,'it''s'),(2,'''');\n", 2),
    ("row separator in a string", b"INSERT INTO `User` VALUES (1,'),('),(2,'),\\n(');\n", 2),
    ("statement end in a string", b"INSERT INTO `User` VALUES (1,');\n');\n", 1),
    ("raw newline in a string", b"INSERT INTO `User` VALUES (1,'a\n'),(2,'\n);\n');\n", 2),
    (
        "head in a string",
        b"INSERT INTO `User` VALUES (1,'\nINSERT INTO `User` VALUES (2);\n');\n",
        1,
    ),
    ("double-quoted string", b'INSERT INTO `User` VALUES (1,"a\'(b"),(2,"");\n', 2),
    (
        "comment openers in strings",
        b"INSERT INTO `User` VALUES (1,'-- x'),(2,'/* y'),(3,'#');\n",
        3,
    ),
    ("a comment inside the rows", b"INSERT INTO `User` VALUES (1) /* (9),(9) */, (2);\n", 2),
    ("a block comment holding a gap", b"INSERT INTO `User` VALUES (/* ),( */ 0);\n", 1),
    ("a line comment holding a gap", b"INSERT INTO `User` VALUES (-- ),(\n0),(1);\n", 2),
    ("a hash comment holding a gap", b"INSERT INTO `User` VALUES (0),(1 # ),(\n);\n", 2),
    ("a quoted name holding a gap", b"INSERT INTO `User` VALUES (`a),(b`),(2);\n", 2),
    ("a double-quoted gap", b'INSERT INTO `User` VALUES ("),("),(2);\n', 2),
    ("expressions", b"INSERT INTO `User` VALUES (1,NOW()),(2,CONCAT('a',')'));\n", 2),
    (
        "utf-8 table name",
        "INSERT INTO `Usér` VALUES (1);\nINSERT INTO `User` VALUES (1);\n".encode(),
        1,
    ),
    ("another table", b"INSERT INTO `user` VALUES (1),(2);\nINSERT INTO `User` VALUES (3);\n", 1),
    (
        "qualified name",
        b"INSERT INTO `other`.`User` VALUES (1);\nINSERT INTO `app`.`User` VALUES (2);\n",
        1,
    ),
    (
        "USE switches the database",
        b"USE `other`;\nINSERT INTO User VALUES (1);\nUSE `app`;\nINSERT INTO User VALUES (2);\n",
        1,
    ),
    (
        "CREATE TABLE without rows",
        b"CREATE TABLE `User` (`id` int, `note` text COMMENT 'a;b');\n",
        0,
    ),
    (
        "restored twice: the second CREATE empties it",
        b"CREATE TABLE User (id int);\nINSERT INTO User VALUES (1),(2);\n"
        b"DROP TABLE IF EXISTS User;\nCREATE TABLE User (id int);\nINSERT INTO User VALUES (3);\n",
        1,
    ),
    (
        "conditional comments and locks",
        b"/*!40101 SET NAMES utf8mb4 */;\nLOCK TABLES `User` WRITE;\n"
        b"/*!40000 ALTER TABLE `User` DISABLE KEYS */;\nINSERT INTO `User` VALUES (1);\n"
        b"/*!40000 ALTER TABLE `User` ENABLE KEYS */;\nUNLOCK TABLES;\n",
        1,
    ),
    (
        "a routine body is not data",
        b"DELIMITER ;;\nCREATE PROCEDURE p() BEGIN INSERT INTO User VALUES (7),(8); END ;;\n"
        b"DELIMITER ;\nINSERT INTO User VALUES (1);\n",
        1,
    ),
    (
        "a trigger in conditional comments is not data",
        b"DELIMITER ;;\n/*!50003 CREATE*/ /*!50003 TRIGGER t AFTER INSERT ON x FOR EACH ROW"
        b" INSERT INTO User VALUES (5) */;;\nDELIMITER ;\n",
        None,
    ),
    ("INSERT ... SELECT", b"INSERT INTO User SELECT * FROM Old;\n", None),
    ("INSERT ... SET", b"INSERT INTO User SET id = 1;\n", None),
    (
        "ON DUPLICATE KEY UPDATE",
        b"INSERT INTO User VALUES (1),(2) ON DUPLICATE KEY UPDATE id=VALUES(id);\n",
        None,
    ),
]


@pytest.mark.parametrize(("case", "sql", "rows"), CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("chunk", [1, 7, 1 << 20])
def test_rows_of_handwritten_sql(
    tmp_path: Path, case: str, sql: bytes, rows: int | None, chunk: int
) -> None:
    path = tmp_path / "dump.sql"
    path.write_bytes(HEADER + sql + FOOTER)
    result = count_rows(path, ["User"], "app", chunk=chunk)
    assert result.rows("User") == rows
    if rows is None and b"TRIGGER" not in sql:
        assert result.problem is not None and result.problem.kind == "uncountable"
        assert result.problem.message.startswith("cannot count the rows of `app`.`User`: ")
    else:
        assert result.problem is None


def test_an_uncountable_table_leaves_the_other_tables_counted(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    sql = b"INSERT INTO Note VALUES (1),(2);\nINSERT INTO User SELECT * FROM x;\n"
    path.write_bytes(HEADER + sql + FOOTER)
    result = count_rows(path, ["User", "Note"], "app")
    assert result.rows("Note") == 2 and result.rows("User") is None
    assert result.problem is not None
    at = len(HEADER) + sql.index(b"INSERT INTO User")
    assert result.problem.message == (
        f"cannot count the rows of `app`.`User`: an INSERT at byte {at}:"
        " it is not a plain VALUES list"
    )


def test_the_header_names_the_database_of_a_single_database_dump(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    path.write_bytes(HEADER.replace(b"app", b"shop") + b"INSERT INTO User VALUES (1);\n" + FOOTER)
    result = count_rows(path, ["User"], "app")
    assert result.databases == ("shop",)
    assert result.problem is not None
    assert result.problem.message == "a dump of another database: User is in `shop`, not in `app`"


def test_a_dump_naming_only_other_databases_is_of_another_database(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    path.write_bytes(HEADER.replace(b"app", b"shop") + b"CREATE TABLE Item (id int);\n" + FOOTER)
    result = count_rows(path, ["User"], "app")
    assert result.problem is not None
    assert result.problem.message == "a dump of another database: it holds `shop`, not `app`"


def test_a_mysqldump_header_and_the_sandbox_line_are_understood(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    path.write_bytes(
        b"/*M!999999\\- enable the sandbox mode */ \n-- MySQL dump 10.13  Distrib 8.0.36\n--\n"
        b"-- Host: localhost    Database: app\n" + b"INSERT INTO User VALUES (1);\n" + FOOTER
    )
    result = count_rows(path, ["User"], "app")
    assert (result.rows("User"), result.complete, result.problem) == (1, True, None)


def test_a_statement_longer_than_the_limit_is_not_counted(tmp_path: Path) -> None:
    path = tmp_path / "dump.sql"
    path.write_bytes(HEADER + b"INSERT INTO User VALUES ('" + b"x" * 5000 + b"');\n" + FOOTER)
    result = count_rows(path, ["User"], "app", chunk=64, max_statement=1024)
    assert result.problem is not None and result.problem.kind == "truncated"
    assert result.problem.message == (
        "a statement after byte 0 is longer than 1,024 bytes: not counted"
    )


# -- the two counting paths, directly -----------------------------------------------------
HEAD = b"INSERT INTO `User` VALUES"


@pytest.mark.parametrize(
    ("text", "heads", "rows"),
    [
        (HEAD + b" (1,'a'),(2,'b');\n", 1, 2),
        (HEAD + b"\n(1,'a'),\n(2,'b');\n", 1, 2),
        (HEAD + b" (1);\n" + HEAD + b" (2),(3);\n", 2, 3),
        (HEAD + b" (1,'it\\'s'),(2,'x\\\\');\n", 1, 2),
        (HEAD + b" (1,'),('),(2,'x');\n", 1, 2),  # literals holding special bytes: cut out
        (HEAD + b" (1,\"it's\"),(2,'x');\n", 1, None),  # a "string": the tokenizer's job
        (HEAD + b" (1 /* it's */),(2,'x');\n", 1, None),  # a comment: the tokenizer's job
        (HEAD + b" (1), (2);\n", 1, None),  # a gap mysqldump never writes
        (HEAD + b" (1),(2) RETURNING id, (id);\n", 1, None),
        (HEAD + b" (1);\nINSERT INTO `Note` VALUES (2);\n", 2, None),
        (HEAD + b" (1,NOW());\n", 1, None),
    ],
)
def test_plain_rows_counts_only_what_it_can_prove(
    text: bytes, heads: int, rows: int | None
) -> None:
    assert plain_rows(text, HEAD, heads) == rows


@pytest.mark.parametrize(
    ("values", "rows"),
    [
        (b" (1,NOW()),(2,CONCAT('(',\"(\"))", 2),
        (b" (1 /* ( */), (2 -- )\n)", 2),
        (b" (((1)))", 1),
        (b" (1),(2) ON DUPLICATE KEY UPDATE a=VALUES(a)", None),
        (b" (1),(2", None),
        (b" (1) /*!50000 ,(2) */", None),
    ],
)
def test_fold_rows_counts_rows_holding_expressions(values: bytes, rows: int | None) -> None:
    assert fold_rows(values) == rows
