package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"

	commonv1 "github.com/transload/transload/gen/transload/common/v1"
	"github.com/transload/transload/platform/eventstreams"
	"github.com/transload/transload/platform/outbox"
	"github.com/transload/transload/platform/sqldb"
	"github.com/transload/transload/services/catalog-pricing/internal/catalog"
	"github.com/transload/transload/services/catalog-pricing/internal/catalogpb"
)

// Producer names catalog-pricing in the metadata of its events.
const Producer = "catalog"

// The outbox aggregates of the two events. Each has one event per number
// it counts (catalog versions, price versions), written in the
// transaction that takes the number under the catalog_state row lock, so
// the sequence the outbox assigns equals that number.
const (
	aggregateCatalog = "catalog"
	aggregatePricing = "pricing"
)

const versionColumns = `version, previous_version, publish_time, product_count, sellable_count,
	added_count, changed_count, removed_count, checksum, note, publisher_kind, publisher_id`

func scanVersion(sc sqldb.Scanner) (catalog.Version, error) {
	var v catalog.Version
	err := sc.Scan(&v.Number, &v.PreviousVersion, &v.PublishTime, &v.ProductCount, &v.SellableCount,
		&v.AddedCount, &v.ChangedCount, &v.RemovedCount, &v.Checksum, &v.Note, &v.Publisher.Kind, &v.Publisher.ID)
	v.PublishTime = v.PublishTime.UTC()
	return v, err
}

func versionByNumber(x q, n int64) (catalog.Version, error) {
	return one(x, scanVersion, fmt.Sprintf("version %d", n), catalog.ErrVersionNotFound,
		`SELECT `+versionColumns+` FROM catalog_versions WHERE version = ?`, n)
}

// CurrentVersion implements catalog.Store.
func (s *CatalogStore) CurrentVersion(ctx context.Context) (catalog.Version, error) {
	x := s.pool(ctx)
	var cur int64
	if err := x.row(`SELECT current_version FROM catalog_state WHERE id = 1`).Scan(&cur); err != nil {
		return catalog.Version{}, fmt.Errorf("read current version: %w", err)
	}
	if cur == 0 {
		return catalog.Version{}, fmt.Errorf("current: %w", catalog.ErrVersionNotFound)
	}
	return versionByNumber(x, cur)
}

// Version implements catalog.Store.
func (s *CatalogStore) Version(ctx context.Context, n int64) (catalog.Version, error) {
	return versionByNumber(s.pool(ctx), n)
}

// ListVersions implements catalog.Store.
func (s *CatalogStore) ListVersions(ctx context.Context, before int64, limit int) ([]catalog.Version, error) {
	query := `SELECT ` + versionColumns + ` FROM catalog_versions`
	a := []any{}
	if before > 0 {
		query += ` WHERE version < ?`
		a = append(a, before)
	}
	query += ` ORDER BY version DESC LIMIT ?`
	vs, err := all(s.pool(ctx), scanVersion, query, append(a, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list versions: %w", err)
	}
	return vs, nil
}

// DraftDigests implements catalog.Store.
func (s *CatalogStore) DraftDigests(ctx context.Context) ([]catalog.Digest, error) {
	return digests(s.pool(ctx), catalog.DraftVersion)
}

func digests(x q, v int64) ([]catalog.Digest, error) {
	ds, err := all(x, scanDigest, `SELECT sku, etag, status, channels FROM products WHERE version = ? ORDER BY sku`, v)
	if err != nil {
		return nil, fmt.Errorf("digests of %d: %w", v, err)
	}
	return ds, nil
}

func scanDigest(sc sqldb.Scanner) (catalog.Digest, error) {
	var d catalog.Digest
	var status int
	var channels string
	err := sc.Scan(&d.SKU, &d.Etag, &status, &channels)
	d.Sellable = catalog.Status(status) == catalog.StatusActive && channels != ""
	return d, err
}

func products(x q, v int64, skus []string) (map[string]catalog.Product, error) {
	out := make(map[string]catalog.Product, len(skus))
	for _, c := range chunks(skus, 500) {
		ps, err := all(x, scanProduct, `SELECT data FROM products WHERE version = ? AND sku IN (`+placeholders(len(c))+`)`, args(c, v)...)
		if err != nil {
			return nil, fmt.Errorf("read products: %w", err)
		}
		for _, p := range ps {
			out[p.SKU] = p
		}
	}
	return out, nil
}

func scanProduct(sc sqldb.Scanner) (catalog.Product, error) {
	var data string
	if err := sc.Scan(&data); err != nil {
		return catalog.Product{}, err
	}
	var p catalog.Product
	if err := json.Unmarshal([]byte(data), &p); err != nil {
		return catalog.Product{}, fmt.Errorf("decode product: %w", err)
	}
	p.UpdateTime = p.UpdateTime.UTC()
	return p, nil
}

// Products implements catalog.Store.
func (s *CatalogStore) Products(ctx context.Context, v int64, skus []string) (map[string]catalog.Product, error) {
	return products(s.pool(ctx), v, skus)
}

// ListProducts implements catalog.Store.
func (s *CatalogStore) ListProducts(ctx context.Context, lq catalog.ListQuery) ([]catalog.Product, error) {
	query := `SELECT data FROM products WHERE version = ? AND sku > ?`
	a := []any{lq.Version, lq.After}
	f := lq.Filter
	if f.Channel != "" {
		query += ` AND channels LIKE ? ESCAPE '\'`
		a = append(a, "%,"+likeEscaper.Replace(f.Channel)+",%")
	}
	if f.Status != catalog.StatusUnspecified {
		query += ` AND status = ?`
		a = append(a, int(f.Status))
	}
	if f.Category != "" {
		query += ` AND (category = ? OR substr(category, 1, ?) = ?)`
		a = append(a, f.Category, len(f.Category)+1, f.Category+"/")
	}
	if f.Brand != "" {
		query += ` AND brand = ?`
		a = append(a, f.Brand)
	}
	query += ` ORDER BY sku LIMIT ?`
	ps, err := all(s.pool(ctx), scanProduct, query, append(a, lq.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list products: %w", err)
	}
	return ps, nil
}

// InTx implements catalog.Store.
func (s *CatalogStore) InTx(ctx context.Context, fn func(tx catalog.Tx) error) error {
	return s.inTx(ctx, func(t *inTx) error { return fn(catalogTx{t}) })
}

type catalogTx struct{ *inTx }

var _ catalog.Tx = catalogTx{}

// DraftProducts implements catalog.Tx.
func (t catalogTx) DraftProducts(skus []string) (map[string]catalog.Product, error) {
	return products(t.q, catalog.DraftVersion, skus)
}

// PutDraftProducts implements catalog.Tx.
func (t catalogTx) PutDraftProducts(ps []catalog.Product) error {
	for _, p := range ps {
		data, err := json.Marshal(p)
		if err != nil {
			return err
		}
		err = t.exec(`INSERT INTO products (version, sku, status, category, brand, channels, etag, data, update_time)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (version, sku) DO UPDATE SET status = excluded.status, category = excluded.category,
				brand = excluded.brand, channels = excluded.channels, etag = excluded.etag, data = excluded.data,
				update_time = excluded.update_time`,
			catalog.DraftVersion, p.SKU, int(p.Status), p.Category, p.Brand, channelsColumn(p.Channels),
			p.Etag, string(data), p.UpdateTime.UTC())
		if err != nil {
			return fmt.Errorf("put draft product %s: %w", p.SKU, err)
		}
	}
	return nil
}

// LockCurrentVersion implements catalog.Tx.
func (t catalogTx) LockCurrentVersion() (int64, error) {
	query := `SELECT current_version FROM catalog_state WHERE id = 1`
	if t.db.Dialect() == sqldb.Postgres {
		query += ` FOR UPDATE`
	}
	var cur int64
	if err := t.row(query).Scan(&cur); err != nil {
		return 0, fmt.Errorf("lock current version: %w", err)
	}
	return cur, nil
}

// Version implements catalog.Tx.
func (t catalogTx) Version(n int64) (catalog.Version, error) { return versionByNumber(t.q, n) }

// Digests implements catalog.Tx.
func (t catalogTx) Digests(v int64) ([]catalog.Digest, error) { return digests(t.q, v) }

// CreateVersion implements catalog.Tx.
func (t catalogTx) CreateVersion(v catalog.Version) error {
	err := t.exec(`INSERT INTO catalog_versions (`+versionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.Number, v.PreviousVersion, v.PublishTime.UTC(), v.ProductCount, v.SellableCount, v.AddedCount,
		v.ChangedCount, v.RemovedCount, v.Checksum, v.Note, v.Publisher.Kind, v.Publisher.ID)
	if err != nil {
		return fmt.Errorf("create version %d: %w", v.Number, err)
	}
	err = t.exec(`INSERT INTO products (version, sku, status, category, brand, channels, etag, data, update_time)
		SELECT ?, sku, status, category, brand, channels, etag, data, update_time FROM products WHERE version = ?`,
		v.Number, catalog.DraftVersion)
	if err != nil {
		return fmt.Errorf("copy draft into version %d: %w", v.Number, err)
	}
	if err := t.exec(`UPDATE catalog_state SET current_version = ? WHERE id = 1`, v.Number); err != nil {
		return fmt.Errorf("set current version: %w", err)
	}
	return nil
}

// AppendPublished implements catalog.Tx.
func (t catalogTx) AppendPublished(ev catalog.PublishedEvent) error {
	return t.writeEvent(outbox.Event{
		AggregateType: aggregateCatalog, AggregateID: aggregateCatalog, Subject: eventstreams.CatalogPublished,
		Producer: Producer, OccurredAt: ev.Version.PublishTime,
		Build: func(md *commonv1.EventMetadata) (proto.Message, error) {
			return catalogpb.CatalogPublished(md, ev), nil
		},
	})
}

// likeEscaper escapes LIKE wildcards ('_' is legal in channel codes).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// channelsColumn renders channels as ",web,b2b," so one LIKE finds a
// channel; no channels is "".
func channelsColumn(chs []string) string {
	if len(chs) == 0 {
		return ""
	}
	return "," + strings.Join(chs, ",") + ","
}

// AuditRecords implements catalog.Store.
func (s *CatalogStore) AuditRecords(ctx context.Context, after int64, limit int) ([]catalog.StoredAudit, error) {
	as, err := all(s.pool(ctx), scanAudit, `SELECT id, occur_time, correlation_id, action, resource, actor_kind, actor_id,
		before_json, after_json FROM audit_records WHERE id > ? ORDER BY id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read audit records: %w", err)
	}
	return as, nil
}

func scanAudit(sc sqldb.Scanner) (catalog.StoredAudit, error) {
	var a catalog.StoredAudit
	err := sc.Scan(&a.ID, &a.OccurTime, &a.CorrelationID, &a.Action, &a.Resource, &a.Actor.Kind, &a.Actor.ID, &a.Before, &a.After)
	a.OccurTime = a.OccurTime.UTC()
	return a, err
}
