-- Foundation: environments, keys, registry, apps, topics, events, usage.
-- Times are integer milliseconds since the epoch; JSON is stored as text.
CREATE TABLE environments (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  monthly_event_quota INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
  environment_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  permissions TEXT NOT NULL,
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, id)
);

CREATE TABLE categories (
  environment_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, name)
);

CREATE TABLE event_types (
  environment_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  category TEXT,
  schema_json TEXT,
  example_json TEXT,
  schema_version INTEGER NOT NULL,
  archived_at INTEGER,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, name)
);
CREATE INDEX event_types_by_category ON event_types (environment_id, category);

CREATE TABLE apps (
  environment_id TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  permissions TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, id)
);

CREATE TABLE topics (
  environment_id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT,
  app_id TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, name)
);
CREATE INDEX topics_by_app ON topics (environment_id, app_id);

CREATE TABLE topic_event_types (
  environment_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  event_type TEXT NOT NULL,
  PRIMARY KEY (environment_id, topic, event_type)
);
CREATE INDEX topic_event_types_by_type ON topic_event_types (environment_id, event_type);

CREATE TABLE events (
  environment_id TEXT NOT NULL,
  id TEXT NOT NULL,
  type TEXT NOT NULL,
  source TEXT,
  subject TEXT,
  time INTEGER NOT NULL,
  data_json TEXT NOT NULL,
  context_json TEXT NOT NULL,
  topic TEXT,
  deliver_at INTEGER NOT NULL,
  cancelled_at INTEGER,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (environment_id, id)
);
CREATE INDEX events_by_created ON events (environment_id, created_at, id);

CREATE TABLE monthly_usage (
  environment_id TEXT NOT NULL,
  month TEXT NOT NULL,
  published INTEGER NOT NULL,
  PRIMARY KEY (environment_id, month)
);
