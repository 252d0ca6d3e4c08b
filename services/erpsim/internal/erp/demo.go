package erp

import (
	"fmt"
	"strconv"
	"time"
)

// Demo data identities every Transload service may rely on (see the
// services brief): two channels, 20 customers, 500 SKUs, 3 warehouses.
const (
	ChannelWeb = "web"
	ChannelB2B = "b2b"

	DemoCustomers = 20
	DemoSKUs      = 500

	// CreditHoldCustomer is the customer on credit hold.
	CreditHoldCustomer = "C0020"
	// LowCreditCustomer has a small credit limit, for credit-limit demos.
	LowCreditCustomer = "C0019"
	// ScarceSKU has exactly ScarceSKUTotal units over all warehouses, for
	// the oversell test.
	ScarceSKU      = "SKU-00500"
	ScarceSKUTotal = 10

	// PriceListStandard is the public EUR list every SKU is on; all channels.
	PriceListStandard = "PL-EUR"
	// PriceListB2B is the b2b EUR list (10% below standard); channel b2b.
	PriceListB2B = "PL-B2B-EUR"
)

// DemoWarehouses are the warehouse codes by priority.
var DemoWarehouses = []string{"WH-HAM", "WH-MUC", "WH-BER"}

// scarceStock is the per-warehouse on-hand of ScarceSKU (sums to 10).
var scarceStock = map[string]int64{"WH-HAM": 4, "WH-MUC": 3, "WH-BER": 3}

// SeedTime is the update_time of all seeded records, so two fresh ERPs
// export byte-identical master data.
var SeedTime = time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC)

// CustomerID returns the id of demo customer n (1-based): C0001...
func CustomerID(n int) string { return fmt.Sprintf("C%04d", n) }

// SKU returns demo SKU n (1-based): SKU-00001...
func SKU(n int) string { return fmt.Sprintf("SKU-%05d", n) }

// StandardPriceMinor is the PL-EUR list price of SKU n in euro cents:
// 9.99 .. 508.99 EUR, spread deterministically over the catalogue.
func StandardPriceMinor(n int) int64 { return 999 + int64((n*7919)%500)*100 }

// B2BPriceMinor is the PL-B2B-EUR price of SKU n: standard minus 10%,
// rounded down to the cent.
func B2BPriceMinor(n int) int64 { return StandardPriceMinor(n) * 9 / 10 }

// DemoOnHand is the seeded on-hand of SKU n in warehouse index w (0-based,
// in DemoWarehouses order): 200..999 units, except ScarceSKU.
func DemoOnHand(n, w int) int64 {
	if SKU(n) == ScarceSKU {
		return scarceStock[DemoWarehouses[w]]
	}
	return 200 + int64((n*37+w*101)%800)
}

var (
	cities = []struct{ city, postal string }{
		{"Hamburg", "20095"}, {"München", "80331"}, {"Berlin", "10115"}, {"Köln", "50667"},
		{"Frankfurt am Main", "60311"}, {"Stuttgart", "70173"}, {"Düsseldorf", "40213"}, {"Leipzig", "04109"},
		{"Dortmund", "44135"}, {"Bremen", "28195"},
	}
	companyWords = []string{"Nord", "Süd", "Alpen", "Rhein", "Elbe", "Main", "Spree", "Isar", "Weser", "Havel"}
	companyKinds = []string{"Bau GmbH", "Handwerk KG", "Technik AG", "Service GmbH"}
	categories   = []string{
		"Tools > Power tools > Drills",
		"Tools > Power tools > Saws",
		"Tools > Hand tools > Screwdrivers",
		"Tools > Hand tools > Pliers",
		"Fasteners > Screws",
		"Fasteners > Anchors",
		"Safety > Gloves",
		"Safety > Eyewear",
		"Electrical > Cables",
		"Electrical > Lighting",
	}
	nouns = []string{
		"Cordless drill", "Circular saw", "Screwdriver set", "Combination pliers", "Wood screws",
		"Nylon anchors", "Work gloves", "Safety glasses", "Installation cable", "LED work light",
	}
	brands  = []string{"Bosch", "Makita", "Wera", "Knipex", "fischer", "Würth", "Uvex", "Hager", "Metabo", "Stabila"}
	colours = []string{"blue", "green", "red", "black", "yellow"}
)

// DemoSeed returns the demo master data. It is a pure function of nothing:
// every call returns the same data.
func DemoSeed() Seed {
	var s Seed
	for i := 1; i <= DemoCustomers; i++ {
		s.Customers = append(s.Customers, demoCustomer(i))
	}
	s.PriceLists = []PriceList{
		{ID: PriceListStandard, DisplayName: "Standard list EUR", Currency: Currency},
		{ID: PriceListB2B, DisplayName: "B2B list EUR", Currency: Currency, Channels: []string{ChannelB2B}},
	}
	for n := 1; n <= DemoSKUs; n++ {
		s.Products = append(s.Products, demoProduct(n))
		s.ListPrices = append(s.ListPrices,
			ListPrice{PriceListID: PriceListB2B, SKU: SKU(n), UoM: "EA", UnitPriceMinor: B2BPriceMinor(n)},
			ListPrice{PriceListID: PriceListStandard, SKU: SKU(n), UoM: "EA", UnitPriceMinor: StandardPriceMinor(n)},
		)
		for w, code := range DemoWarehouses {
			s.Stock = append(s.Stock, StockRow{SKU: SKU(n), WarehouseCode: code, OnHand: DemoOnHand(n, w), UoM: "EA"})
		}
	}
	s.Contracts = DemoContracts()
	s.Warehouses = []Warehouse{
		{Code: "WH-HAM", DisplayName: "Hamburg distribution center", Region: "de-north", Priority: 1, Active: true,
			Address:  Address{Recipient: "Transload Demo WH Hamburg", Lines: []string{"Hafenstraße 1"}, Locality: "Hamburg", PostalCode: "20457", RegionCode: "DE"},
			Channels: []string{ChannelB2B, ChannelWeb}},
		{Code: "WH-MUC", DisplayName: "Munich distribution center", Region: "de-south", Priority: 2, Active: true,
			Address:  Address{Recipient: "Transload Demo WH München", Lines: []string{"Lagerweg 2"}, Locality: "München", PostalCode: "80939", RegionCode: "DE"},
			Channels: []string{ChannelB2B, ChannelWeb}},
		{Code: "WH-BER", DisplayName: "Berlin distribution center", Region: "de-east", Priority: 3, Active: true,
			Address:  Address{Recipient: "Transload Demo WH Berlin", Lines: []string{"Logistikring 3"}, Locality: "Berlin", PostalCode: "12529", RegionCode: "DE"},
			Channels: []string{ChannelB2B, ChannelWeb}},
	}
	return s
}

func demoCustomer(i int) Customer {
	id := CustomerID(i)
	city := cities[(i-1)%len(cities)]
	name := companyWords[(i-1)%len(companyWords)] + " " + companyKinds[(i-1)%len(companyKinds)]
	addr := Address{
		Recipient:  name,
		Lines:      []string{fmt.Sprintf("Industriestraße %d", i)},
		Locality:   city.city,
		PostalCode: city.postal,
		RegionCode: "DE",
	}
	c := Customer{
		ID:               id,
		DisplayName:      name,
		State:            AccountActive,
		HasCreditLimit:   true,
		CreditLimitMinor: int64(50_000+i*10_000) * 100, // 60,000 .. 250,000 EUR
		Currency:         Currency,
		PaymentTermsCode: "NT30",
		PaymentTermsDesc: "Net 30 days",
		PaymentNetDays:   30,
		AllowedChannels:  []string{ChannelB2B, ChannelWeb},
		PriceListIDs:     []string{PriceListStandard},
		BillTo:           addr,
		ShipTos:          []ShipTo{{ID: id + "-ST01", Address: addr, IsDefault: true}},
		UpdateTime:       SeedTime,
	}
	if i > 10 {
		c.AllowedChannels = []string{ChannelB2B}
		c.PriceListIDs = []string{PriceListB2B, PriceListStandard}
		c.PaymentTermsCode, c.PaymentTermsDesc, c.PaymentNetDays = "NT60", "Net 60 days", 60
	}
	switch id {
	case LowCreditCustomer:
		c.CreditLimitMinor = 1_000 * 100
	case CreditHoldCustomer:
		c.State = AccountCreditHold
		c.OpenBalanceMinor = 31_000 * 100
	}
	return c
}

func demoProduct(n int) Product {
	k := (n - 1) % len(categories)
	variant := (n-1)/len(categories) + 1
	brand := brands[(n*7)%len(brands)]
	title := fmt.Sprintf("%s %s %d", brand, nouns[k], variant)
	if SKU(n) == ScarceSKU {
		title = "Limited edition " + title
	}
	weight := 50 + (n*131)%4950 // grams
	return Product{
		SKU:         SKU(n),
		Title:       title,
		Description: fmt.Sprintf("%s from %s, model %d. Demo product of the Transload ERP simulator.", nouns[k], brand, variant),
		Attributes: []Attribute{
			{Key: "brand", Value: brand},
			{Key: "colour", Value: colours[n%len(colours)]},
			{Key: "weight", Value: strconv.FormatFloat(float64(weight)/1000, 'f', 3, 64), Unit: "kg"},
		},
		UoM:        "EA",
		SalesState: SalesActive,
		Category:   categories[k],
		GTIN:       gtin(n),
		UpdateTime: SeedTime,
	}
}

// gtin returns a valid EAN-13 for SKU n in the "in-store" 20-29 prefix
// range, so it never collides with a real product.
func gtin(n int) string {
	body := fmt.Sprintf("2%011d", 40000000+n)
	sum := 0
	for i, r := range body {
		d := int(r - '0')
		if i%2 == 1 {
			d *= 3
		}
		sum += d
	}
	return body + strconv.Itoa((10-sum%10)%10)
}
