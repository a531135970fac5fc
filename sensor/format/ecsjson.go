package format

import "fmt"

// ECS encodes the document as it is: one JSON object.
type ECS struct{}

// Encode implements Encoder.
func (ECS) Encode(doc map[string]any) ([]byte, error) {
	b, err := MarshalDoc(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding ECS: %w", err)
	}
	return b, nil
}
