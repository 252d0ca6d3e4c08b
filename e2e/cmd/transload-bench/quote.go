package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/types/known/timestamppb"

	catalogv1 "github.com/transload/transload/gen/transload/catalog/v1"
	commonv1 "github.com/transload/transload/gen/transload/common/v1"
)

// The quote scenario (issue #11): catalog-pricing's QuotePrices over gRPC
// with quoteLines lines, at each concurrency, next to a raw gRPC echo (a
// health Check over loopback to an in-process server) measured in the
// same run, with rules of every kind active for the quoting customer: a
// contract, a channel rule (markdown, .99 rounding, margin floor), an
// automatic best-of promotion, a stackable one, a buy-X-get-Y, an
// order-level tiered spend and an entered code. "repeat" asks the same
// basket every time (the quote cache answers after the first), "varied"
// changes the quantities every call (every quote runs the engine); each
// with the full explanation (the default) and with the summary view.
const (
	quoteLines    = 20
	quoteCustomer = "C0001"
	quoteCode     = "BENCHQ10"
	// quoteGoal is issue #11's goal: quotes at c=16 at least this share
	// of the echo's throughput.
	quoteGoal = 0.6
)

func quoteSKU(i int) string { return fmt.Sprintf("SKU-%05d", 201+i) }

// setupQuoteRules writes the scenario's rules (idempotent request ids, so
// a rerun on the same mesh changes nothing).
func setupQuoteRules(ctx context.Context, pc catalogv1.PricingServiceClient) error {
	start := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	eur := func(m int64) *commonv1.Money { return &commonv1.Money{AmountMinor: m, CurrencyCode: "EUR"} }
	contract := &catalogv1.CustomerContract{Name: "customerContracts/BENCH-Q", CustomerId: quoteCustomer, CurrencyCode: "EUR"}
	for i := range quoteLines / 2 {
		contract.Terms = append(contract.Terms, &catalogv1.ContractTerm{Scope: &catalogv1.ContractTerm_Sku{Sku: quoteSKU(i)},
			Pricing: &catalogv1.ContractTerm_DiscountBps{DiscountBps: 700}})
	}
	margin := int32(500)
	var skus []string
	for i := range quoteLines {
		skus = append(skus, quoteSKU(i))
	}
	promos := []*catalogv1.Promotion{
		{Name: "promotions/BENCH-AUTO", DisplayName: "Bench 5 %", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, Skus: skus[:15],
			Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 500}, StartTime: start},
		{Name: "promotions/BENCH-STACK", DisplayName: "Bench 0.10 off", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, Skus: skus[5:],
			Discount: &catalogv1.Promotion_UnitDiscount{UnitDiscount: eur(10)}, Combinability: catalogv1.Promotion_COMBINABILITY_STACKABLE, StartTime: start},
		{Name: "promotions/BENCH-B2G1", DisplayName: "Bench 3 for 2", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, Skus: skus[10:],
			Discount: &catalogv1.Promotion_BuyXGetY{BuyXGetY: &catalogv1.BuyXGetY{BuyQuantity: 2, GetQuantity: 1}}, StartTime: start},
		// Scoped to the scenario's SKUs, so the other scenarios' orders keep their prices.
		{Name: "promotions/BENCH-TIER", DisplayName: "Bench spend", Trigger: catalogv1.Promotion_TRIGGER_AUTOMATIC, StartTime: start, Skus: skus,
			Discount: &catalogv1.Promotion_SpendTiers{SpendTiers: &catalogv1.SpendTiers{Tiers: []*catalogv1.SpendTier{
				{MinSpend: eur(10000), Discount: &catalogv1.SpendTier_AmountOff{AmountOff: eur(500)}},
				{MinSpend: eur(50000), Discount: &catalogv1.SpendTier_DiscountBps{DiscountBps: 300}}}}}},
		{Name: "promotions/BENCH-CODE", DisplayName: "Bench code", Trigger: catalogv1.Promotion_TRIGGER_CODE, Code: quoteCode,
			Discount: &catalogv1.Promotion_DiscountBps{DiscountBps: 1000}, Combinability: catalogv1.Promotion_COMBINABILITY_EXCLUSIVE, StartTime: start},
	}
	if _, err := pc.UpdateCustomerContract(ctx, &catalogv1.UpdateCustomerContractRequest{RequestId: "bench-quote-contract",
		AllowMissing: true, CustomerContract: contract}); err != nil {
		return fmt.Errorf("contract: %w", err)
	}
	if _, err := pc.UpdateChannelRule(ctx, &catalogv1.UpdateChannelRuleRequest{RequestId: "bench-quote-rule", AllowMissing: true,
		ChannelRule: &catalogv1.ChannelRule{Name: "channelRules/BENCH-WEB", Channel: "web", Skus: skus, AdjustmentBps: -100,
			Rounding: catalogv1.ChannelRule_ROUNDING_NINETY_NINE, MinMarginBps: &margin, StartTime: start}}); err != nil {
		return fmt.Errorf("channel rule: %w", err)
	}
	for _, p := range promos {
		if _, err := pc.UpdatePromotion(ctx, &catalogv1.UpdatePromotionRequest{RequestId: "bench-quote-" + p.GetName(),
			AllowMissing: true, Promotion: p}); err != nil {
			return fmt.Errorf("promotion %s: %w", p.GetName(), err)
		}
	}
	return nil
}

// quoteRequest is the scenario's request; varied derives the quantities
// from the worker and i so that no two calls of a run share a basket
// (every quote runs the engine; until session 6 they repeated every 50
// calls, so most "varied" quotes came from the cache), summary asks for
// QUOTE_VIEW_SUMMARY (prices and winning rules without the candidates).
func quoteRequest(varied, summary bool, worker, i int) *catalogv1.QuotePricesRequest {
	req := &catalogv1.QuotePricesRequest{CustomerId: quoteCustomer, Channel: "web", CurrencyCode: "EUR", PromotionCodes: []string{quoteCode}}
	if summary {
		req.View = catalogv1.QuoteView_QUOTE_VIEW_SUMMARY
	}
	for l := range quoteLines {
		qty := int64(1 + l%3)
		if varied {
			switch l {
			case 0:
				qty = int64(1 + worker)
			case 1:
				qty = int64(1 + i%1000)
			case 2:
				qty = int64(1 + (i/1000)%1000)
			default:
				qty = int64(1 + (worker*7919+i+l)%50)
			}
		}
		req.Lines = append(req.Lines, &catalogv1.QuoteRequestLine{Sku: quoteSKU(l), Quantity: qty})
	}
	return req
}

// quoteVariants are the measured quote kinds: the full explanation (the
// default view) and the summary view, each with a repeated basket and
// with varied quantities.
var quoteVariants = []struct {
	key, name       string
	varied, summary bool
}{
	{"full-repeat", "q1: gRPC quote, 20 lines, all rule kinds, repeat", false, false},
	{"full-varied", "q2: gRPC quote, 20 lines, all rule kinds, varied", true, false},
	{"summary-repeat", "q3: gRPC quote, 20 lines, all rule kinds, summary view, repeat", false, true},
	{"summary-varied", "q4: gRPC quote, 20 lines, all rule kinds, summary view, varied", true, true},
}

// runQuoteScenario measures the echo and the quotes at each level and
// returns the results and a note with the c=16 ratio against the goal.
// dial are the options for catalog's internal port
// (launcher.Mesh.DialOptions: the operator's mutual TLS, the mesh's
// default); none dials plaintext, for a mesh run with the development flag.
func runQuoteScenario(ctx context.Context, catalogAddr string, levels []int, d time.Duration, mesh cpuWatch, dial ...grpc.DialOption) ([]result, []string, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	echoConn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, nil, err
	}
	defer echoConn.Close()
	hc := healthpb.NewHealthClient(echoConn)
	if len(dial) == 0 {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(catalogAddr, dial...)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	pc := catalogv1.NewPricingServiceClient(conn)
	if err := setupQuoteRules(ctx, pc); err != nil {
		return nil, nil, fmt.Errorf("quote scenario: %w", err)
	}
	call := func(f func(context.Context) error) error {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return f(cctx)
	}
	// The quote must apply rules of every kind before anything is timed.
	q, err := pc.QuotePrices(ctx, quoteRequest(false, false, 0, 0))
	if err != nil {
		return nil, nil, fmt.Errorf("quote scenario: warm-up quote: %w", err)
	}
	if kinds := quoteKinds(q); len(kinds) < 3 {
		return nil, nil, fmt.Errorf("quote scenario: the quote applied only %v", kinds)
	}
	inProc := cpuWatch{pids: map[string]int{harnessProc: os.Getpid()}, counted: map[string]bool{harnessProc: true}}
	var out []result
	rps := map[string]float64{}
	for _, c := range levels {
		echo := measureCPU(ctx, inProc, "q0: raw gRPC echo", c, d, func(int, int) error {
			return call(func(ctx context.Context) error {
				_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{})
				return err
			})
		})
		out = append(out, echo)
		rps[fmt.Sprintf("echo%d", c)] = echo.RPS
		for _, v := range quoteVariants {
			r := measureCPU(ctx, mesh, v.name, c, d, func(w, i int) error {
				return call(func(ctx context.Context) error {
					_, err := pc.QuotePrices(ctx, quoteRequest(v.varied, v.summary, w, i))
					return err
				})
			})
			out = append(out, r)
			rps[fmt.Sprintf("%s%d", v.key, c)] = r.RPS
		}
	}
	var notes []string
	if e := rps["echo16"]; e > 0 {
		notes = append(notes, fmt.Sprintf("quote/echo at c=16: %.2f× repeated basket, %.2f× varied quantities with the full explanation; "+
			"%.2f× repeated, %.2f× varied with the summary view (issue #11 goal ≥ %.1f×)",
			rps["full-repeat16"]/e, rps["full-varied16"]/e, rps["summary-repeat16"]/e, rps["summary-varied16"]/e, quoteGoal))
	}
	return out, notes, nil
}

// quoteKinds returns the rule kinds a quote's lines applied or won with.
func quoteKinds(q *catalogv1.QuotePricesResponse) []catalogv1.RuleKind {
	seen := map[catalogv1.RuleKind]bool{}
	var out []catalogv1.RuleKind
	for _, l := range q.GetLines() {
		for _, c := range l.GetCandidates() {
			k := c.GetRule().GetKind()
			if (c.GetOutcome() == catalogv1.PriceCandidate_OUTCOME_WON || c.GetOutcome() == catalogv1.PriceCandidate_OUTCOME_APPLIED) && !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	return out
}
