// Package config loads berth's settings: defaults, then a YAML file, then
// BERTH_* environment variables, then command-line flags, each overriding
// the one before.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/berth-registry/berth/internal/secrets"
)

// Config is every setting of `berth serve`.
type Config struct {
	Addr        string `yaml:"addr"`
	DataDir     string `yaml:"data_dir"`
	DatabaseURL string `yaml:"database_url"`
	RedisURL    string `yaml:"redis_url"`
	LogLevel    string `yaml:"log_level"`
	LogFormat   string `yaml:"log_format"`
	ExternalURL string `yaml:"external_url"`
	// AdminPassword is the password of the admin user created on first
	// start; empty means a random one, printed once.
	AdminPassword string `yaml:"admin_password"`
	// SecretKey encrypts the secrets berth stores in its database (see
	// internal/secrets): 32 random bytes in base64 or hex. Required with
	// PostgreSQL, where every replica must share it; empty on SQLite means
	// the key in <data dir>/secret.key, generated on first start.
	SecretKey string `yaml:"secret_key"`

	// AuthMode is "db" (local users) or "oidc" (single sign-on; local
	// password sign-in stays open to local system admins only).
	AuthMode string `yaml:"auth_mode"`
	// The OIDC settings below are the initial values: once a system admin
	// saves OIDC settings in GraphQL, the stored copy wins (see
	// internal/auth/oidc).
	OIDCIssuer        string `yaml:"oidc_issuer"`
	OIDCClientID      string `yaml:"oidc_client_id"`
	OIDCClientSecret  string `yaml:"oidc_client_secret"`
	OIDCScopes        string `yaml:"oidc_scopes"` // comma-separated
	OIDCUsernameClaim string `yaml:"oidc_username_claim"`
	OIDCGroupsClaim   string `yaml:"oidc_groups_claim"`
	OIDCAdminGroup    string `yaml:"oidc_admin_group"`
	OIDCProviderName  string `yaml:"oidc_provider_name"`
	// OIDCAllowPrivate lets berth reach OpenID providers (discovery, token
	// exchange, keys, the connection test) on loopback, link-local and
	// private addresses ("true" or "false"); off, those are refused at dial
	// time so that the connection test cannot probe the internal network.
	OIDCAllowPrivate string `yaml:"oidc_allow_private"`

	// MetricsAddr is a separate host:port for /metrics; empty serves it on
	// the main listener.
	MetricsAddr string `yaml:"metrics_addr"`
	// PprofAddr is a loopback host:port serving net/http/pprof; empty
	// serves no profiles.
	PprofAddr string `yaml:"pprof_addr"`

	// RobotPrefix starts every robot account's login name.
	RobotPrefix string `yaml:"robot_prefix"`
	// RobotExpiryDays is the expiry of robots created without one.
	RobotExpiryDays string `yaml:"robot_expiry_days"`

	// AuditPulls records every pull in the audit log ("true" or "false").
	AuditPulls string `yaml:"audit_pulls"`
	// AuditRetentionDays is how long audit entries are kept; 0 keeps them forever.
	AuditRetentionDays string `yaml:"audit_retention_days"`

	// GCGracePeriod is how long a blob nothing references is kept after it
	// was last linked or referenced, before garbage collection deletes it
	// (a Go duration such as 2h or 0s).
	GCGracePeriod string `yaml:"gc_grace_period"`
	// GCWorkers is how many blob batches garbage collection deletes at once.
	GCWorkers string `yaml:"gc_workers"`
	// WebhookAllowPrivate lets webhook targets resolve to loopback,
	// link-local and private addresses.
	WebhookAllowPrivate string `yaml:"webhook_allow_private"`
	// JobRetryDelay is the delay before a failed job's first retry; each
	// further retry waits twice as long, up to an hour.
	JobRetryDelay string `yaml:"job_retry_delay"`

	// StorageDriver is where blobs live: "filesystem" (under DataDir) or
	// "s3" (the S3* settings below).
	StorageDriver string `yaml:"storage_driver"`
	// S3Endpoint is the S3 server's URL; empty means AWS for S3Region.
	S3Endpoint  string `yaml:"s3_endpoint"`
	S3Region    string `yaml:"s3_region"`
	S3Bucket    string `yaml:"s3_bucket"`
	S3Prefix    string `yaml:"s3_prefix"`
	S3AccessKey string `yaml:"s3_access_key"`
	S3SecretKey string `yaml:"s3_secret_key"`
	// S3PathStyle addresses the bucket in the URL path rather than the
	// host name ("true" or "false"), as most servers other than AWS need.
	S3PathStyle string `yaml:"s3_path_style"`
	// StorageRedirect answers blob GETs with a 307 to a presigned URL
	// when the driver can presign ("true" or "false").
	StorageRedirect string `yaml:"storage_redirect"`
	// StorageSendfile says when filesystem blobs go out with sendfile(2):
	// "auto" (the default: to clients on other hosts, copied through a
	// buffer to clients on this one), "true" (always) or "false" (never).
	StorageSendfile string `yaml:"storage_sendfile"`
	// TrustedProxies lists the networks (CIDR, comma-separated) of the
	// reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies string `yaml:"trusted_proxies"`
	// SBOMCycloneDX makes every successful image scan attach a CycloneDX
	// 1.5 SBOM beside the SPDX 2.3 one ("true" or "false").
	SBOMCycloneDX string `yaml:"sbom_cyclonedx"`
	// VulndbURL lists the http(s) URLs (comma-separated) of OSV exports
	// or records that berth imports into its vulnerability database every
	// VulndbRefresh.
	VulndbURL string `yaml:"vulndb_url"`
	// VulndbRefresh is the interval between those imports (a Go
	// duration); 0 imports none.
	VulndbRefresh string `yaml:"vulndb_refresh"`
}

// Setting describes one setting: its flag, environment variable, YAML key
// and meaning. The README's configuration table is written from this list.
type Setting struct {
	Flag, Env, YAML, Default, Usage string
	field                           func(*Config) *string
}

// Settings lists every setting in the order of the README table.
var Settings = []Setting{
	{"addr", "BERTH_ADDR", "addr", ":8080", "address to listen on (host:port)", func(c *Config) *string { return &c.Addr }},
	{"data-dir", "BERTH_DATA_DIR", "data_dir", "./data", "directory for the SQLite database, blobs and keys", func(c *Config) *string { return &c.DataDir }},
	{"database-url", "BERTH_DATABASE_URL", "database_url", "", "postgres://... for PostgreSQL; empty for SQLite in the data dir", func(c *Config) *string { return &c.DatabaseURL }},
	{"redis-url", "BERTH_REDIS_URL", "redis_url", "", "redis://host:port/db; optional, for events across replicas", func(c *Config) *string { return &c.RedisURL }},
	{"log-level", "BERTH_LOG_LEVEL", "log_level", "info", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }},
	{"log-format", "BERTH_LOG_FORMAT", "log_format", "text", "text or json", func(c *Config) *string { return &c.LogFormat }},
	{"external-url", "BERTH_EXTERNAL_URL", "external_url", "", "the URL clients use to reach berth (default http://localhost:<port>)", func(c *Config) *string { return &c.ExternalURL }},
	{"admin-password", "BERTH_ADMIN_PASSWORD", "admin_password", "", "password of the admin user created on first start (default: random, printed once)", func(c *Config) *string { return &c.AdminPassword }},
	{"secret-key", "BERTH_SECRET_KEY", "secret_key", "", "key encrypting the secrets stored in the database: 32 random bytes in base64 or hex (openssl rand -base64 32); required with PostgreSQL, generated into the data dir on SQLite", func(c *Config) *string { return &c.SecretKey }},
	{"auth-mode", "BERTH_AUTH_MODE", "auth_mode", "db", "db (local users) or oidc (single sign-on)", func(c *Config) *string { return &c.AuthMode }},
	{"oidc-issuer", "BERTH_OIDC_ISSUER", "oidc_issuer", "", "OpenID provider issuer URL (required in oidc mode)", func(c *Config) *string { return &c.OIDCIssuer }},
	{"oidc-client-id", "BERTH_OIDC_CLIENT_ID", "oidc_client_id", "", "OAuth client ID registered at the provider (required in oidc mode)", func(c *Config) *string { return &c.OIDCClientID }},
	{"oidc-client-secret", "BERTH_OIDC_CLIENT_SECRET", "oidc_client_secret", "", "OAuth client secret (prefer the environment or the file: flags show in process listings)", func(c *Config) *string { return &c.OIDCClientSecret }},
	{"oidc-scopes", "BERTH_OIDC_SCOPES", "oidc_scopes", "openid,profile,email", "comma-separated scopes to request", func(c *Config) *string { return &c.OIDCScopes }},
	{"oidc-username-claim", "BERTH_OIDC_USERNAME_CLAIM", "oidc_username_claim", "preferred_username", "claim that names the berth user (falls back to sub)", func(c *Config) *string { return &c.OIDCUsernameClaim }},
	{"oidc-groups-claim", "BERTH_OIDC_GROUPS_CLAIM", "oidc_groups_claim", "", "claim listing the user's groups (e.g. groups); empty: no groups", func(c *Config) *string { return &c.OIDCGroupsClaim }},
	{"oidc-admin-group", "BERTH_OIDC_ADMIN_GROUP", "oidc_admin_group", "", "members of this group are system admins", func(c *Config) *string { return &c.OIDCAdminGroup }},
	{"robot-prefix", "BERTH_ROBOT_PREFIX", "robot_prefix", "robot$", "prefix of robot account login names", func(c *Config) *string { return &c.RobotPrefix }},
	{"robot-expiry-days", "BERTH_ROBOT_EXPIRY_DAYS", "robot_expiry_days", "30", "days until a robot created without an expiry expires", func(c *Config) *string { return &c.RobotExpiryDays }},
	{"audit-pulls", "BERTH_AUDIT_PULLS", "audit_pulls", "true", "record pulls in the audit log (true or false)", func(c *Config) *string { return &c.AuditPulls }},
	{"audit-retention-days", "BERTH_AUDIT_RETENTION_DAYS", "audit_retention_days", "90", "days to keep audit log entries; 0 keeps them forever", func(c *Config) *string { return &c.AuditRetentionDays }},
	{"oidc-provider-name", "BERTH_OIDC_PROVIDER_NAME", "oidc_provider_name", "OpenID Connect", "name of the provider on the login page", func(c *Config) *string { return &c.OIDCProviderName }},
	{"oidc-allow-private", "BERTH_OIDC_ALLOW_PRIVATE", "oidc_allow_private", "false", "let berth reach OpenID providers on loopback, link-local and private addresses (true or false)", func(c *Config) *string { return &c.OIDCAllowPrivate }},
	{"gc-grace-period", "BERTH_GC_GRACE_PERIOD", "gc_grace_period", "2h", "how long garbage collection keeps a blob nothing references after it was last linked or referenced (e.g. 2h, 30m, 0s)", func(c *Config) *string { return &c.GCGracePeriod }},
	{"webhook-allow-private", "BERTH_WEBHOOK_ALLOW_PRIVATE", "webhook_allow_private", "false", "let webhooks reach endpoints on loopback, link-local and private addresses (true or false)", func(c *Config) *string { return &c.WebhookAllowPrivate }},
	{"job-retry-delay", "BERTH_JOB_RETRY_DELAY", "job_retry_delay", "10s", "how long a failed job (such as a webhook delivery) waits before its first retry; each further retry waits twice as long, up to an hour", func(c *Config) *string { return &c.JobRetryDelay }},
	{"gc-workers", "BERTH_GC_WORKERS", "gc_workers", "4", "how many batches of blobs garbage collection deletes at once (1 to 64; always 1 on SQLite)", func(c *Config) *string { return &c.GCWorkers }},
	{"storage-driver", "BERTH_STORAGE_DRIVER", "storage_driver", "filesystem", "where blobs live: filesystem (under --data-dir) or s3", func(c *Config) *string { return &c.StorageDriver }},
	{"s3-endpoint", "BERTH_S3_ENDPOINT", "s3_endpoint", "", "S3 server URL, e.g. http://minio:9000; empty for AWS in --s3-region", func(c *Config) *string { return &c.S3Endpoint }},
	{"s3-region", "BERTH_S3_REGION", "s3_region", "us-east-1", "S3 region", func(c *Config) *string { return &c.S3Region }},
	{"s3-bucket", "BERTH_S3_BUCKET", "s3_bucket", "", "S3 bucket holding the blobs (required with --storage-driver s3; must exist)", func(c *Config) *string { return &c.S3Bucket }},
	{"s3-prefix", "BERTH_S3_PREFIX", "s3_prefix", "", "key prefix inside the bucket, e.g. berth; empty for the bucket's root", func(c *Config) *string { return &c.S3Prefix }},
	{"s3-access-key", "BERTH_S3_ACCESS_KEY", "s3_access_key", "", "S3 access key ID (required with --storage-driver s3)", func(c *Config) *string { return &c.S3AccessKey }},
	{"s3-secret-key", "BERTH_S3_SECRET_KEY", "s3_secret_key", "", "S3 secret access key (prefer the environment or the file: flags show in process listings)", func(c *Config) *string { return &c.S3SecretKey }},
	{"s3-path-style", "BERTH_S3_PATH_STYLE", "s3_path_style", "false", "address the bucket in the URL path instead of the host name (true or false; most non-AWS servers need true)", func(c *Config) *string { return &c.S3PathStyle }},
	{"storage-redirect", "BERTH_STORAGE_REDIRECT", "storage_redirect", "false", "answer blob GETs with a 307 to a 15-minute presigned storage URL when the driver can presign, i.e. s3 (true or false); clients must reach --s3-endpoint", func(c *Config) *string { return &c.StorageRedirect }},
	{"storage-sendfile", "BERTH_STORAGE_SENDFILE", "storage_sendfile", "auto", "when to send filesystem blobs with sendfile(2) instead of copying them through a 1 MiB buffer: auto (to clients on other hosts; clients on this host, such as a reverse proxy beside berth, get the copy, which loopback takes faster), true (always) or false (never, for filesystems where sendfile is slow or unsupported: some FUSE and network filesystems)", func(c *Config) *string { return &c.StorageSendfile }},
	{"trusted-proxies", "BERTH_TRUSTED_PROXIES", "trusted_proxies", "", "comma-separated CIDRs of reverse proxies (an Ingress controller, a load balancer) whose X-Forwarded-For names the client for rate limits, lockouts and the audit log; empty: the direct peer is the client", func(c *Config) *string { return &c.TrustedProxies }},
	{"sbom-cyclonedx", "BERTH_SBOM_CYCLONEDX", "sbom_cyclonedx", "false", "attach a CycloneDX 1.5 JSON SBOM to every successfully scanned image, beside the SPDX 2.3 one berth always attaches (true or false)", func(c *Config) *string { return &c.SBOMCycloneDX }},
	{"vulndb-url", "BERTH_VULNDB_URL", "vulndb_url", "", "http(s) URL of an OSV all.zip export or JSON record to import into the vulnerability database every --vulndb-refresh, e.g. https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip; repeat the flag or separate URLs with commas; empty: none", func(c *Config) *string { return &c.VulndbURL }},
	{"vulndb-refresh", "BERTH_VULNDB_REFRESH", "vulndb_refresh", "24h", "interval between imports of --vulndb-url (e.g. 6h, 24h); 0 imports none", func(c *Config) *string { return &c.VulndbRefresh }},
	{"metrics-addr", "BERTH_METRICS_ADDR", "metrics_addr", "", "separate host:port serving /metrics; empty serves it on --addr", func(c *Config) *string { return &c.MetricsAddr }},
	{"pprof-addr", "BERTH_PPROF_ADDR", "pprof_addr", "", "loopback host:port serving Go profiles (net/http/pprof) under /debug/pprof/, e.g. 127.0.0.1:6060; empty: off", func(c *Config) *string { return &c.PprofAddr }},
}

// Error is a configuration problem; it names the setting at fault.
type Error struct {
	Setting string
	Msg     string
}

func (e *Error) Error() string {
	// One line, whatever the cause says: drivers like to wrap over several.
	msg := strings.Join(strings.Fields(strings.ReplaceAll(e.Msg, "\n", "; ")), " ")
	return fmt.Sprintf("invalid %s: %s", e.Setting, msg)
}

// AddFlags registers every setting as a flag on fs, plus --config.
func AddFlags(fs *pflag.FlagSet) {
	fs.String("config", "", "YAML configuration file (env BERTH_CONFIG)")
	for _, s := range Settings {
		if s.Flag == "admin-password" || s.Flag == "secret-key" {
			continue // secrets stay out of process listings: environment or file only
		}
		if s.Flag == "vulndb-url" {
			// Repeatable: a second --vulndb-url adds a URL.
			fs.StringSlice(s.Flag, nil, fmt.Sprintf("%s (env %s)", s.Usage, s.Env))
			continue
		}
		fs.String(s.Flag, s.Default, fmt.Sprintf("%s (env %s)", s.Usage, s.Env))
	}
	// A switch reads like one: --oidc-allow-private alone means true.
	fs.Lookup("oidc-allow-private").NoOptDefVal = "true"
	fs.Lookup("webhook-allow-private").NoOptDefVal = "true"
	fs.Lookup("s3-path-style").NoOptDefVal = "true"
	fs.Lookup("storage-redirect").NoOptDefVal = "true"
	fs.Lookup("storage-sendfile").NoOptDefVal = "true"
}

// Default returns the configuration with every setting at its default.
func Default() *Config {
	c := &Config{}
	for _, s := range Settings {
		*s.field(c) = s.Default
	}
	return c
}

// Load builds the configuration from defaults, the YAML file named by
// --config or BERTH_CONFIG, the environment and the flags set on fs.
func Load(fs *pflag.FlagSet, getenv func(string) string) (*Config, error) {
	c := Default()
	path := getenv("BERTH_CONFIG")
	if f := fs.Lookup("config"); f != nil && f.Changed {
		path = f.Value.String()
	}
	if path != "" {
		if err := loadFile(c, path); err != nil {
			return nil, err
		}
	}
	for _, s := range Settings {
		if v, ok := lookup(getenv, s.Env); ok {
			*s.field(c) = v
		}
		if f := fs.Lookup(s.Flag); f != nil && f.Changed {
			*s.field(c) = f.Value.String()
			if list, ok := f.Value.(pflag.SliceValue); ok {
				*s.field(c) = strings.Join(list.GetSlice(), ",")
			}
		}
	}
	return c, c.Validate()
}

func lookup(getenv func(string) string, key string) (string, bool) {
	if getenv == nil {
		getenv = os.Getenv
	}
	v := getenv(key)
	return v, v != ""
}

func loadFile(c *Config, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Error{Setting: "--config", Msg: err.Error()}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return &Error{Setting: "--config " + path, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	return nil
}

// Validate checks every setting and names the first bad one.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		return &Error{Setting: "--addr (BERTH_ADDR)", Msg: fmt.Sprintf("%q is not host:port", c.Addr)}
	}
	if c.DataDir == "" {
		return &Error{Setting: "--data-dir (BERTH_DATA_DIR)", Msg: "must not be empty"}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return &Error{Setting: "--log-level (BERTH_LOG_LEVEL)", Msg: fmt.Sprintf("%q is not debug, info, warn or error", c.LogLevel)}
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return &Error{Setting: "--log-format (BERTH_LOG_FORMAT)", Msg: fmt.Sprintf("%q is not text or json", c.LogFormat)}
	}
	if c.DatabaseURL != "" && strings.Contains(c.DatabaseURL, "://") {
		u, err := url.Parse(c.DatabaseURL)
		if err != nil {
			return &Error{Setting: "--database-url (BERTH_DATABASE_URL)", Msg: "malformed URL"}
		}
		switch u.Scheme {
		case "postgres", "postgresql", "sqlite":
		default:
			return &Error{Setting: "--database-url (BERTH_DATABASE_URL)", Msg: fmt.Sprintf("scheme %q is not postgres or sqlite", u.Scheme)}
		}
	}
	if _, err := c.TrustedProxyNetworks(); err != nil {
		return err
	}
	if c.RobotPrefix == "" || len(c.RobotPrefix) > 32 || strings.ContainsAny(c.RobotPrefix, " :/@") {
		return &Error{Setting: "--robot-prefix (BERTH_ROBOT_PREFIX)", Msg: fmt.Sprintf("%q must be 1 to 32 characters without spaces, ':', '/' or '@'", c.RobotPrefix)}
	}
	if n, err := strconv.Atoi(c.RobotExpiryDays); err != nil || n < 1 || n > 3650 {
		return &Error{Setting: "--robot-expiry-days (BERTH_ROBOT_EXPIRY_DAYS)", Msg: fmt.Sprintf("%q is not a number of days from 1 to 3650", c.RobotExpiryDays)}
	}
	if err := checkBool("--audit-pulls (BERTH_AUDIT_PULLS)", c.AuditPulls, false); err != nil {
		return err
	}
	if n, err := strconv.Atoi(c.AuditRetentionDays); err != nil || n < 0 || n > 36500 {
		return &Error{Setting: "--audit-retention-days (BERTH_AUDIT_RETENTION_DAYS)", Msg: fmt.Sprintf("%q is not a number of days from 0 to 36500", c.AuditRetentionDays)}
	}
	if d, err := time.ParseDuration(c.GCGracePeriod); err != nil || d < 0 {
		return &Error{Setting: "--gc-grace-period (BERTH_GC_GRACE_PERIOD)", Msg: fmt.Sprintf("%q is not a duration of 0s or more, such as 2h or 30m", c.GCGracePeriod)}
	}
	if err := checkBool("--sbom-cyclonedx (BERTH_SBOM_CYCLONEDX)", c.SBOMCycloneDX, false); err != nil {
		return err
	}
	if err := c.validateVulndb(); err != nil {
		return err
	}
	if n, err := strconv.Atoi(c.GCWorkers); err != nil || n < 1 || n > 64 {
		return &Error{Setting: "--gc-workers (BERTH_GC_WORKERS)", Msg: fmt.Sprintf("%q is not a number from 1 to 64", c.GCWorkers)}
	}
	if c.PprofAddr != "" {
		host, port, err := net.SplitHostPort(c.PprofAddr)
		ip := net.ParseIP(host)
		if err != nil || port == "" || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return &Error{Setting: "--pprof-addr (BERTH_PPROF_ADDR)", Msg: fmt.Sprintf("%q is not a loopback host:port such as 127.0.0.1:6060: profiles reveal memory contents and must not be reachable from the network", c.PprofAddr)}
		}
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			return &Error{Setting: "--metrics-addr (BERTH_METRICS_ADDR)", Msg: fmt.Sprintf("%q is not host:port", c.MetricsAddr)}
		}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return &Error{Setting: "--redis-url (BERTH_REDIS_URL)", Msg: "must look like redis://host:port/db"}
		}
	}
	if c.ExternalURL != "" {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Setting: "--external-url (BERTH_EXTERNAL_URL)", Msg: fmt.Sprintf("%q is not an absolute http(s) URL", c.ExternalURL)}
		}
		c.ExternalURL = strings.TrimRight(c.ExternalURL, "/")
	}
	if err := c.validateStorage(); err != nil {
		return err
	}
	if c.SecretKey != "" {
		if _, err := secrets.ParseKey(c.SecretKey); err != nil {
			return &Error{Setting: SecretKeySetting, Msg: err.Error()}
		}
	}
	return c.validateAuth()
}

// SecretKeySetting names the secret key in errors. It has no flag: like
// the admin password it stays out of process listings.
const SecretKeySetting = secrets.Setting + " (secret_key)"

// RequireSecretKey checks the secret key for the commands that read or
// write stored secrets (serve, migrate, admin rotate-token-key): well
// formed if set, and set when the database is PostgreSQL, whose replicas
// must all encrypt with the same key, so none may generate its own.
// Validate checks only the form: `berth gc` and `berth admin user` touch
// no stored secret and run without the key.
func (c *Config) RequireSecretKey() error {
	if c.SecretKey == "" {
		if c.UsesPostgres() {
			return &Error{Setting: SecretKeySetting, Msg: "required with PostgreSQL, where every replica must encrypt stored secrets with the same key: " +
				secrets.GenerateAdvice + " and give it to every replica"}
		}
		return nil
	}
	if _, err := secrets.ParseKey(c.SecretKey); err != nil {
		return &Error{Setting: SecretKeySetting, Msg: err.Error()}
	}
	return nil
}

// UsesPostgres reports whether the database is PostgreSQL (else SQLite).
func (c *Config) UsesPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// maxS3SettingLength bounds the free-form S3 settings.
const maxS3SettingLength = 1024

func (c *Config) validateStorage() error {
	if err := checkBool("--storage-redirect (BERTH_STORAGE_REDIRECT)", c.StorageRedirect, true); err != nil {
		return err
	}
	if _, ok := sendfileMode(c.StorageSendfile); !ok {
		return &Error{Setting: "--storage-sendfile (BERTH_STORAGE_SENDFILE)", Msg: fmt.Sprintf("%q is not auto, true or false", c.StorageSendfile)}
	}
	switch c.StorageDriver {
	case "", "filesystem": // "" is filesystem, for configurations built in code
		return nil
	case "s3":
	default:
		return &Error{Setting: "--storage-driver (BERTH_STORAGE_DRIVER)", Msg: fmt.Sprintf("%q is not filesystem or s3", c.StorageDriver)}
	}
	for _, s := range []struct{ setting, value string }{
		{"--s3-endpoint (BERTH_S3_ENDPOINT)", c.S3Endpoint},
		{"--s3-region (BERTH_S3_REGION)", c.S3Region},
		{"--s3-bucket (BERTH_S3_BUCKET)", c.S3Bucket},
		{"--s3-prefix (BERTH_S3_PREFIX)", c.S3Prefix},
		{"--s3-access-key (BERTH_S3_ACCESS_KEY)", c.S3AccessKey},
		{"--s3-secret-key (BERTH_S3_SECRET_KEY)", c.S3SecretKey},
	} {
		if len(s.value) > maxS3SettingLength {
			return &Error{Setting: s.setting, Msg: fmt.Sprintf("longer than %d characters", maxS3SettingLength)}
		}
	}
	if c.S3Endpoint != "" {
		u, err := url.Parse(c.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return &Error{Setting: "--s3-endpoint (BERTH_S3_ENDPOINT)", Msg: fmt.Sprintf("%q is not an http(s) URL of a server, such as http://minio:9000", c.S3Endpoint)}
		}
	}
	if c.S3Region == "" || strings.ContainsFunc(c.S3Region, func(r rune) bool { return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') }) {
		return &Error{Setting: "--s3-region (BERTH_S3_REGION)", Msg: fmt.Sprintf("%q is not a region name such as us-east-1", c.S3Region)}
	}
	if !validBucketName(c.S3Bucket) {
		return &Error{Setting: "--s3-bucket (BERTH_S3_BUCKET)", Msg: fmt.Sprintf("%q is not a bucket name (3 to 63 lower-case letters, digits, '.' and '-'); required with --storage-driver s3", c.S3Bucket)}
	}
	if p := strings.Trim(c.S3Prefix, "/"); p != "" {
		for _, part := range strings.Split(p, "/") {
			if part == "" || part[0] == '.' || strings.ContainsFunc(part, func(r rune) bool {
				return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
			}) {
				return &Error{Setting: "--s3-prefix (BERTH_S3_PREFIX)", Msg: fmt.Sprintf("%q must be slash-separated names of letters, digits, '.', '_' and '-', none starting with '.'", c.S3Prefix)}
			}
		}
	}
	if c.S3AccessKey == "" {
		return &Error{Setting: "--s3-access-key (BERTH_S3_ACCESS_KEY)", Msg: "required with --storage-driver s3"}
	}
	if c.S3SecretKey == "" {
		return &Error{Setting: "--s3-secret-key (BERTH_S3_SECRET_KEY)", Msg: "required with --storage-driver s3"}
	}
	if err := checkBool("--s3-path-style (BERTH_S3_PATH_STYLE)", c.S3PathStyle, true); err != nil {
		return err
	}
	return nil
}

// validBucketName follows the S3 bucket naming rules that matter for
// addressing: 3 to 63 characters, lower-case letters, digits, '.' and
// '-', starting and ending with a letter or digit.
func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, r := range b {
		alnum := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !alnum && (r != '.' && r != '-' || i == 0 || i == len(b)-1) {
			return false
		}
	}
	return true
}

// S3PathStyleAddressing reports whether the bucket goes in the URL path.
func (c *Config) S3PathStyleAddressing() bool {
	return boolSetting(c.S3PathStyle, false)
}

// TrustedProxyNetworks parses TrustedProxies: CIDRs, or single
// addresses (a /32 or /128).
func (c *Config) TrustedProxyNetworks() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(c.TrustedProxies, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			a, aerr := netip.ParseAddr(f)
			if aerr != nil {
				return nil, &Error{Setting: "--trusted-proxies (BERTH_TRUSTED_PROXIES)", Msg: fmt.Sprintf("%q is not a CIDR such as 10.0.0.0/8 or an address", f)}
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		out = append(out, p.Masked())
	}
	if len(out) > 256 {
		return nil, &Error{Setting: "--trusted-proxies (BERTH_TRUSTED_PROXIES)", Msg: "more than 256 networks"}
	}
	return out, nil
}

// StorageRedirects reports whether blob GETs redirect to presigned URLs.
func (c *Config) StorageRedirects() bool {
	return boolSetting(c.StorageRedirect, false)
}

// Sendfile modes, as StorageSendfileMode reports them.
const (
	SendfileAuto   = "auto"
	SendfileAlways = "always"
	SendfileNever  = "never"
)

// StorageSendfileMode reports when filesystem blobs go out with sendfile:
// SendfileAuto (the default, also when unset in a configuration built in
// code), SendfileAlways or SendfileNever.
func (c *Config) StorageSendfileMode() string {
	mode, _ := sendfileMode(c.StorageSendfile)
	return mode
}

// sendfileMode reads a --storage-sendfile value: "" and "auto" are
// SendfileAuto, true and false as strconv.ParseBool reads them are
// SendfileAlways and SendfileNever; anything else is SendfileAuto and
// not ok.
func sendfileMode(value string) (mode string, ok bool) {
	if value == "" || strings.EqualFold(value, SendfileAuto) {
		return SendfileAuto, true
	}
	v, err := strconv.ParseBool(value)
	switch {
	case err != nil:
		return SendfileAuto, false
	case v:
		return SendfileAlways, true
	}
	return SendfileNever, true
}

func (c *Config) validateAuth() error {
	switch c.AuthMode {
	case "", "db", "oidc": // "" is db, for configurations built in code
	default:
		return &Error{Setting: "--auth-mode (BERTH_AUTH_MODE)", Msg: fmt.Sprintf("%q is not db or oidc", c.AuthMode)}
	}
	if c.AuthMode == "oidc" && c.OIDCIssuer == "" {
		return &Error{Setting: "--oidc-issuer (BERTH_OIDC_ISSUER)", Msg: "required when --auth-mode is oidc"}
	}
	if c.AuthMode == "oidc" && c.OIDCClientID == "" {
		return &Error{Setting: "--oidc-client-id (BERTH_OIDC_CLIENT_ID)", Msg: "required when --auth-mode is oidc"}
	}
	if err := checkBool("--webhook-allow-private (BERTH_WEBHOOK_ALLOW_PRIVATE)", c.WebhookAllowPrivate, true); err != nil {
		return err
	}
	if d, err := time.ParseDuration(c.JobRetryDelay); err != nil || d < 10*time.Millisecond || d > time.Hour {
		return &Error{Setting: "--job-retry-delay (BERTH_JOB_RETRY_DELAY)", Msg: fmt.Sprintf("%q is not a duration from 10ms to 1h, such as 10s", c.JobRetryDelay)}
	}
	if err := checkBool("--oidc-allow-private (BERTH_OIDC_ALLOW_PRIVATE)", c.OIDCAllowPrivate, true); err != nil {
		return err
	}
	if c.OIDCIssuer != "" {
		u, err := url.Parse(c.OIDCIssuer)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Setting: "--oidc-issuer (BERTH_OIDC_ISSUER)", Msg: fmt.Sprintf("%q is not an absolute http(s) URL", c.OIDCIssuer)}
		}
	}
	return nil
}

// RecordPulls reports whether pulls go into the audit log.
func (c *Config) RecordPulls() bool {
	return boolSetting(c.AuditPulls, true)
}

// OIDCPrivateAllowed reports whether OpenID providers may live on
// loopback, link-local and private addresses.
func (c *Config) OIDCPrivateAllowed() bool {
	return boolSetting(c.OIDCAllowPrivate, false)
}

// WebhookPrivateAllowed reports whether webhook targets may live on
// loopback, link-local and private addresses.
func (c *Config) WebhookPrivateAllowed() bool {
	return boolSetting(c.WebhookAllowPrivate, false)
}

// JobRetry is the delay before a failed job's first retry.
func (c *Config) JobRetry() time.Duration {
	d, _ := time.ParseDuration(c.JobRetryDelay)
	return d
}

// RobotExpiry is the default lifetime of robot accounts.
func (c *Config) RobotExpiry() time.Duration {
	n, _ := strconv.Atoi(c.RobotExpiryDays)
	return time.Duration(n) * 24 * time.Hour
}

// GCGrace is garbage collection's grace period.
func (c *Config) GCGrace() time.Duration {
	d, _ := time.ParseDuration(c.GCGracePeriod)
	return d
}

// GCWorkerCount is how many batches garbage collection deletes at once.
func (c *Config) GCWorkerCount() int {
	n, _ := strconv.Atoi(c.GCWorkers)
	return max(n, 1)
}

// SBOMCycloneDXOn reports whether scans attach CycloneDX SBOMs too.
func (c *Config) SBOMCycloneDXOn() bool {
	return boolSetting(c.SBOMCycloneDX, false)
}

// AuditRetention is how long audit entries are kept; 0 means forever.
func (c *Config) AuditRetention() time.Duration {
	n, _ := strconv.Atoi(c.AuditRetentionDays)
	return time.Duration(n) * 24 * time.Hour
}

// PublicURL is the URL clients reach berth at: ExternalURL, or one derived
// from the listen address.
func (c *Config) PublicURL() string {
	if c.ExternalURL != "" {
		return c.ExternalURL
	}
	host, port, _ := net.SplitHostPort(c.Addr)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// RegistryHost is the host[:port] that goes in image references.
func (c *Config) RegistryHost() string {
	u, err := url.Parse(c.PublicURL())
	if err != nil {
		return "localhost"
	}
	return u.Host
}

func (c *Config) validateVulndb() error {
	urls := c.VulndbURLs()
	for i, raw := range urls {
		// Not quoted back: a URL may carry a token.
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &Error{Setting: "--vulndb-url (BERTH_VULNDB_URL)", Msg: fmt.Sprintf("URL %d of %d is not an absolute http(s) URL", i+1, len(urls))}
		}
	}
	if d, err := time.ParseDuration(c.VulndbRefresh); err != nil || (d != 0 && d < time.Second) {
		return &Error{Setting: "--vulndb-refresh (BERTH_VULNDB_REFRESH)", Msg: fmt.Sprintf("%q is not 0 or a duration of a second or more, such as 24h", c.VulndbRefresh)}
	}
	return nil
}

// VulndbURLs lists the URLs the vulnerability database is refreshed from.
func (c *Config) VulndbURLs() []string {
	var out []string
	for _, u := range strings.Split(c.VulndbURL, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// VulndbRefreshEvery is the interval between refreshes of the
// vulnerability database; 0 means none.
func (c *Config) VulndbRefreshEvery() time.Duration {
	d, _ := time.ParseDuration(c.VulndbRefresh)
	return d
}

// checkBool validates a true/false setting; an empty one passes when
// emptyOK (a configuration built in code leaves it so, meaning the
// default).
func checkBool(setting, value string, emptyOK bool) error {
	if value == "" && emptyOK {
		return nil
	}
	if _, err := strconv.ParseBool(value); err != nil {
		return &Error{Setting: setting, Msg: fmt.Sprintf("%q is not true or false", value)}
	}
	return nil
}

// boolSetting reads a validated true/false setting; an empty (or, in a
// configuration built in code without validation, unreadable) one is def.
func boolSetting(value string, def bool) bool {
	v, err := strconv.ParseBool(value)
	if err != nil {
		return def
	}
	return v
}
