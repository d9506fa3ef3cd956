-- Foundation: environments, keys, registry, apps, topics, events, usage.
-- Times are integer milliseconds since the epoch; JSON is stored as text.
CREATE TABLE environments (
  id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT COLLATE "C" NOT NULL,
  monthly_event_quota BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

CREATE TABLE api_keys (
  environment_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  role TEXT COLLATE "C" NOT NULL,
  permissions TEXT COLLATE "C" NOT NULL,
  secret_hash BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, id)
);

CREATE TABLE categories (
  environment_id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  description TEXT COLLATE "C",
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, name)
);

CREATE TABLE event_types (
  environment_id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  description TEXT COLLATE "C",
  category TEXT COLLATE "C",
  schema_json TEXT COLLATE "C",
  example_json TEXT COLLATE "C",
  schema_version INTEGER NOT NULL,
  archived_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, name)
);
CREATE INDEX event_types_by_category ON event_types (environment_id, category);

CREATE TABLE apps (
  environment_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  permissions TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, id)
);

CREATE TABLE topics (
  environment_id TEXT COLLATE "C" NOT NULL,
  name TEXT COLLATE "C" NOT NULL,
  description TEXT COLLATE "C",
  app_id TEXT COLLATE "C",
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, name)
);
CREATE INDEX topics_by_app ON topics (environment_id, app_id);

CREATE TABLE topic_event_types (
  environment_id TEXT COLLATE "C" NOT NULL,
  topic TEXT COLLATE "C" NOT NULL,
  event_type TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (environment_id, topic, event_type)
);
CREATE INDEX topic_event_types_by_type ON topic_event_types (environment_id, event_type);

CREATE TABLE events (
  environment_id TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  type TEXT COLLATE "C" NOT NULL,
  source TEXT COLLATE "C",
  subject TEXT COLLATE "C",
  time BIGINT NOT NULL,
  data_json TEXT COLLATE "C" NOT NULL,
  context_json TEXT COLLATE "C" NOT NULL,
  topic TEXT COLLATE "C",
  deliver_at BIGINT NOT NULL,
  cancelled_at BIGINT,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (environment_id, id)
);
CREATE INDEX events_by_created ON events (environment_id, created_at, id);

CREATE TABLE monthly_usage (
  environment_id TEXT COLLATE "C" NOT NULL,
  month TEXT COLLATE "C" NOT NULL,
  published BIGINT NOT NULL,
  PRIMARY KEY (environment_id, month)
);
