"""Numbered migrations. The database records its version in `schema_version`; a blank database runs
every migration in order, an older one the missing ones, a newer one is refused."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the foundation. JSON values (contexts, questions, answers) are stored as canonical JSON
    # text, which both DuckDB and PostgreSQL compare and export without conversion.
    """
    CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL);
    CREATE TABLE settings (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
    CREATE TABLE contexts (
        id BIGINT PRIMARY KEY, task VARCHAR NOT NULL, size INTEGER NOT NULL, split VARCHAR NOT NULL,
        data VARCHAR, digest VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL);
    CREATE TABLE questions (
        id BIGINT PRIMARY KEY, task VARCHAR NOT NULL, size INTEGER NOT NULL, split VARCHAR NOT NULL,
        context_id BIGINT NOT NULL, question VARCHAR NOT NULL, truth VARCHAR, source VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL);
    CREATE TABLE sessions (
        id VARCHAR PRIMARY KEY, command VARCHAR NOT NULL, actor VARCHAR, pid INTEGER NOT NULL,
        started_at TIMESTAMP NOT NULL, ended_at TIMESTAMP, status VARCHAR NOT NULL);
    CREATE TABLE rounds (
        id BIGINT PRIMARY KEY, session_id VARCHAR, task VARCHAR NOT NULL, oracle VARCHAR NOT NULL,
        strategy VARCHAR NOT NULL, pick VARCHAR NOT NULL, params VARCHAR NOT NULL, seed BIGINT,
        model_version INTEGER, adversary_version INTEGER, questions INTEGER NOT NULL,
        status VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP);
    CREATE TABLE trees (
        id BIGINT PRIMARY KEY, round_id BIGINT, question_id BIGINT, task VARCHAR NOT NULL,
        context_id BIGINT, root_id BIGINT NOT NULL, answer VARCHAR, truth VARCHAR, correct BOOLEAN,
        overseer_calls INTEGER NOT NULL, primitive_calls INTEGER NOT NULL, model_calls INTEGER NOT NULL,
        nodes INTEGER NOT NULL, depth INTEGER NOT NULL, source VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, seconds DOUBLE);
    CREATE TABLE nodes (
        id BIGINT PRIMARY KEY, tree_id BIGINT NOT NULL, parent_id BIGINT, position INTEGER NOT NULL,
        step INTEGER NOT NULL, depth INTEGER NOT NULL, question VARCHAR NOT NULL, answer VARCHAR,
        actor VARCHAR NOT NULL, score DOUBLE, ml_answer VARCHAR, ml_logp DOUBLE, gumbel DOUBLE,
        gumbel_threshold DOUBLE, recursed BOOLEAN NOT NULL, primitive BOOLEAN NOT NULL,
        truth VARCHAR, correct BOOLEAN);
    CREATE TABLE actions (
        id BIGINT PRIMARY KEY, tree_id BIGINT, node_id BIGINT, session_id VARCHAR,
        actor VARCHAR NOT NULL, kind VARCHAR NOT NULL, step INTEGER NOT NULL, primitive BOOLEAN NOT NULL,
        result VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, seconds DOUBLE NOT NULL, supersedes BIGINT,
        note VARCHAR);
    CREATE TABLE versions (
        id BIGINT PRIMARY KEY, kind VARCHAR NOT NULL, version INTEGER NOT NULL, task VARCHAR,
        created_at TIMESTAMP NOT NULL, config VARCHAR, data_counts VARCHAR, metrics VARCHAR,
        checkpoint VARCHAR, sha256 VARCHAR, model_version INTEGER, status VARCHAR NOT NULL);
    CREATE TABLE metrics (
        id BIGINT PRIMARY KEY, created_at TIMESTAMP NOT NULL, task VARCHAR, size INTEGER, split VARCHAR,
        name VARCHAR NOT NULL, value DOUBLE, model_version INTEGER, adversary_version INTEGER,
        round_id BIGINT, extra VARCHAR);
    CREATE TABLE audits (
        id BIGINT PRIMARY KEY, tree_id BIGINT NOT NULL, created_at TIMESTAMP NOT NULL,
        oracle VARCHAR NOT NULL, ordering VARCHAR NOT NULL, culprit BIGINT, checks INTEGER NOT NULL,
        checked VARCHAR NOT NULL, session_id VARCHAR);
    CREATE INDEX nodes_tree ON nodes (tree_id);
    CREATE INDEX questions_task ON questions (task, split);
    CREATE INDEX contexts_digest ON contexts (digest);
    """,
    # 2: scripted active-learning experiments and their learning curves
    """
    CREATE TABLE experiments (
        name VARCHAR PRIMARY KEY, flags VARCHAR NOT NULL, state VARCHAR NOT NULL, status VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL, finished_at TIMESTAMP);
    CREATE TABLE curve (
        experiment VARCHAR NOT NULL, cycle INTEGER NOT NULL, strategy VARCHAR NOT NULL, task VARCHAR NOT NULL,
        size INTEGER NOT NULL, seed BIGINT NOT NULL, overseer_calls BIGINT NOT NULL,
        primitive_calls BIGINT NOT NULL,
        labelled BIGINT NOT NULL, accuracy DOUBLE, adversary_auroc DOUBLE, uncertainty_auroc DOUBLE,
        agreement DOUBLE, model_version INTEGER, adversary_version INTEGER, round_id BIGINT,
        wall_seconds DOUBLE NOT NULL, created_at TIMESTAMP NOT NULL, PRIMARY KEY (experiment, cycle));
    """,
    # 3: `ida label` sessions: the questions a person's label round has taken up, in order, with the
    # model and adversary versions each was started with (a resumed tree replays with the same ones).
    # status: open (being labelled), done (its tree is stored), skipped, returned (given back to the
    # pool when the skip before it was undone). The person's steps themselves are actions.
    """
    CREATE TABLE label_items (
        id BIGINT PRIMARY KEY, round_id BIGINT NOT NULL, position INTEGER NOT NULL,
        question_id BIGINT NOT NULL, annotator VARCHAR NOT NULL, status VARCHAR NOT NULL,
        model_version INTEGER, adversary_version INTEGER, tree_id BIGINT,
        started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, seconds DOUBLE);
    """,
    # 4: label stores shared by several annotators at once (PostgreSQL). Sessions record the host
    # they run on and when they were last seen (a heartbeat): a question claimed by an annotator not
    # seen for IDA_CLAIM_TIMEOUT seconds may be given to someone else. label_claims are the questions
    # served to annotators, one row per (question, slot): a question has at most K slots (the
    # round's --overlap), and the primary key makes a second claim of a slot impossible. Actions
    # name their label item in a column, so that the database filters them instead of the note.
    """
    ALTER TABLE sessions ADD COLUMN host VARCHAR;
    ALTER TABLE sessions ADD COLUMN heartbeat_at TIMESTAMP;
    ALTER TABLE actions ADD COLUMN item_id BIGINT;
    UPDATE actions SET item_id = CAST(json_extract_string(note, '$.item') AS BIGINT)
        WHERE note IS NOT NULL AND json_extract_string(note, '$.item') IS NOT NULL;
    CREATE TABLE label_claims (
        question_id BIGINT NOT NULL, slot INTEGER NOT NULL, item_id BIGINT NOT NULL,
        annotator VARCHAR NOT NULL, claimed_at TIMESTAMP NOT NULL, PRIMARY KEY (question_id, slot));
    INSERT INTO label_claims (question_id, slot, item_id, annotator, claimed_at)
        SELECT question_id, CAST(row_number() OVER (PARTITION BY question_id ORDER BY id) - 1 AS INTEGER),
               id, annotator, started_at
        FROM label_items WHERE status IN ('open', 'done');
    """,
    # 5: checkpoints kept in the database itself, by SHA-256, for stores on a server: a model trained
    # on one machine is loaded by `ida label`, `ida round` and `ida eval` on another (on a DuckDB
    # file the checkpoints stay files beside it and this table stays empty)
    """
    CREATE TABLE checkpoints (
        sha256 VARCHAR PRIMARY KEY, data BLOB NOT NULL, bytes BIGINT NOT NULL, created_at TIMESTAMP NOT NULL);
    """,
    # 6: the questions a scripted `ida round` is walking, claimed when the round is created and given
    # back when it ends, so that `ida label` and other rounds leave them alone meanwhile; one row per
    # question, so that two rounds can never hold the same one (ida_cli/store/claims.py)
    """
    CREATE TABLE round_claims (
        question_id BIGINT PRIMARY KEY, round_id BIGINT NOT NULL, session_id VARCHAR NOT NULL,
        claimed_at TIMESTAMP NOT NULL);
    """,
    # 7: the memoizing overseer: subquestions of a tree answered again from the overseer's memory,
    # never counted as overseer calls
    """
    ALTER TABLE trees ADD COLUMN memo_hits INTEGER DEFAULT 0;
    """,
    # 8: a curve point's CPU time and ML's training steps so far (the online schedule's points are
    # at fixed step intervals; the paper's cost is counted in steps and CPU time). Milliseconds in
    # a BIGINT: an ALTER through DuckDB's postgres extension passes the type name on as it is, and
    # PostgreSQL has no DOUBLE
    """
    ALTER TABLE curve ADD COLUMN cpu_ms BIGINT;
    ALTER TABLE curve ADD COLUMN steps BIGINT;
    """,
]

SCHEMA_VERSION = len(MIGRATIONS)

# Tables a user may export; the order is the order `ida status` lists them in.
TABLES = (
    "contexts",
    "questions",
    "rounds",
    "trees",
    "nodes",
    "actions",
    "sessions",
    "versions",
    "metrics",
    "audits",
    "label_items",
    "label_claims",
    "round_claims",
    "checkpoints",
    "experiments",
    "curve",
    "settings",
    "schema_version",
)
