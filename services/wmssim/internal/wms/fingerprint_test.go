package wms

import "testing"

// Fingerprints are stored with each shipment request and expected return
// and compared with those of later submissions, across deploys: a payload
// must keep its digest.
func TestPayloadFingerprintsAreStable(t *testing.T) {
	t.Parallel()
	order := ShipmentOrder{
		OrderID: "O-1", Warehouse: "WH-HAM",
		ShipTo:            Address{Recipient: "Erika Musterfrau", Lines: []string{"Hauptstr. 1"}, Locality: "Hamburg", PostalCode: "20095", RegionCode: "DE"},
		Lines:             []OrderLine{{LineID: "1", SKU: "SKU-00001", Quantity: 2}},
		ServiceLevel:      "STANDARD",
		RequestedShipDate: Date{Year: 2026, Month: 11, Day: 27},
	}
	notice := ReturnNotice{
		OrderID: "O-1", Warehouse: "WH-BER",
		Lines: []ReturnLine{{LineID: "r1", SKU: "SKU-00001", Quantity: 2, ReturnReason: "too small"}},
	}
	for name, tt := range map[string]struct{ got, want string }{
		"shipment order": {order.Fingerprint(), "3e3ccdcf0cc26f3b9114952d7454924284b3aa387bd0b924a465ba7fa4e522e4"},
		"return notice":  {notice.Fingerprint(), "e8e53278c53399b3e16eb8df2e7c5626e26de7cf5b6c8f9e14307d23398172d6"},
	} {
		if tt.got != tt.want {
			t.Errorf("%s fingerprint = %s, want %s", name, tt.got, tt.want)
		}
	}
}
